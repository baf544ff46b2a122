"""Vendor API routes for webhooks, included from portal/urls.py under api/v1/ (the licensing
API's URLconf cannot include them: licensing does not depend on webhooks)."""

from django.urls import path

from webhooks import api

urlpatterns = [
    path(
        "webhook-endpoints",
        api.WebhookEndpointCollectionView.as_view(),
        name="webhook-endpoint-list",
    ),
    path(
        "webhook-endpoints/<uuid:endpoint_id>",
        api.WebhookEndpointDetailView.as_view(),
        name="webhook-endpoint-detail",
    ),
    path(
        "webhook-endpoints/<uuid:endpoint_id>/test",
        api.WebhookEndpointTestView.as_view(),
        name="webhook-endpoint-test",
    ),
    path(
        "webhook-endpoints/<uuid:endpoint_id>/rotate-secret",
        api.WebhookEndpointRotateSecretView.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
    path(
        "webhook-endpoints/<uuid:endpoint_id>/resume",
        api.WebhookEndpointResumeView.as_view(),
        name="webhook-endpoint-resume",
    ),
    path(
        "webhook-deliveries",
        api.WebhookDeliveryCollectionView.as_view(),
        name="webhook-delivery-list",
    ),
    path(
        "webhook-deliveries/<uuid:delivery_id>",
        api.WebhookDeliveryDetailView.as_view(),
        name="webhook-delivery-detail",
    ),
    path(
        "webhook-deliveries/<uuid:delivery_id>/redeliver",
        api.WebhookDeliveryRedeliverView.as_view(),
        name="webhook-delivery-redeliver",
    ),
]
