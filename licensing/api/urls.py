from django.urls import path

from licensing.api import client

urlpatterns = [
    path("activations", client.ActivationCreateView.as_view(), name="activation-create"),
    path(
        "activations/<str:activation_id>/heartbeat",
        client.ActivationHeartbeatView.as_view(),
        name="activation-heartbeat",
    ),
    path(
        "activations/<str:activation_id>",
        client.ActivationReleaseView.as_view(),
        name="activation-release",
    ),
    path("entitlement", client.EntitlementStatusView.as_view(), name="entitlement-status"),
]
