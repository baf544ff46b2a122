"""Webhook endpoint pages, included twice from portal/urls.py: at team/webhooks/ (vendor-wide
endpoints, staff; namespace `team_webhooks`) and at c/<slug>/webhooks/ (one customer's
endpoints, its admins; `customer_webhooks`). The views read `slug` to tell."""

from django.urls import path

from portal import webhook_views

app_name = "webhooks"

urlpatterns = [
    path("", webhook_views.endpoint_list, name="list"),
    path("new/", webhook_views.endpoint_create, name="create"),
    path("<uuid:endpoint_id>/", webhook_views.endpoint_detail, name="detail"),
    path("<uuid:endpoint_id>/edit/", webhook_views.endpoint_edit, name="edit"),
    path("<uuid:endpoint_id>/delete/", webhook_views.endpoint_delete, name="delete"),
    path("<uuid:endpoint_id>/rotate/", webhook_views.endpoint_rotate, name="rotate"),
    path("<uuid:endpoint_id>/test/", webhook_views.endpoint_test, name="test"),
    path("<uuid:endpoint_id>/resume/", webhook_views.endpoint_resume, name="resume"),
    path(
        "<uuid:endpoint_id>/redeliver/",
        webhook_views.endpoint_redeliver_failed,
        name="redeliver_failed",
    ),
    path(
        "<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/",
        webhook_views.delivery_detail,
        name="delivery",
    ),
    path(
        "<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/redeliver/",
        webhook_views.delivery_redeliver,
        name="delivery_redeliver",
    ),
]
