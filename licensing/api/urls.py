from django.urls import path

from licensing.api import client, vendor, vendor_events

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
    # Vendor API (Bearer tokens): plural collections with UUID ids.
    path("customers", vendor.CustomerCollectionView.as_view(), name="customer-list"),
    path(
        "customers/<uuid:customer_id>",
        vendor.CustomerDetailView.as_view(),
        name="customer-detail",
    ),
    path("products", vendor.ProductCollectionView.as_view(), name="product-list"),
    path("products/<uuid:product_id>", vendor.ProductDetailView.as_view(), name="product-detail"),
    path("entitlements", vendor.EntitlementCollectionView.as_view(), name="entitlement-list"),
    path(
        "entitlements/<uuid:entitlement_id>",
        vendor.EntitlementDetailView.as_view(),
        name="entitlement-detail",
    ),
    path(
        "entitlements/<uuid:entitlement_id>/suspend",
        vendor.EntitlementSuspendView.as_view(),
        name="entitlement-suspend",
    ),
    path(
        "entitlements/<uuid:entitlement_id>/alert-thresholds",
        vendor.AlertThresholdCollectionView.as_view(),
        name="alert-threshold-list",
    ),
    path(
        "entitlements/<uuid:entitlement_id>/alert-thresholds/<uuid:threshold_id>",
        vendor.AlertThresholdDetailView.as_view(),
        name="alert-threshold-detail",
    ),
    path(
        "entitlements/<uuid:entitlement_id>/rotate-key",
        vendor.EntitlementRotateKeyView.as_view(),
        name="entitlement-rotate-key",
    ),
    path(
        "entitlements/<uuid:entitlement_id>/resume",
        vendor.EntitlementResumeView.as_view(),
        name="entitlement-resume",
    ),
    path(
        "entitlements/<uuid:entitlement_id>/seats",
        vendor.SeatCollectionView.as_view(),
        name="seat-list",
    ),
    path(
        "entitlements/<uuid:entitlement_id>/seats/<uuid:seat_id>",
        vendor.SeatDetailView.as_view(),
        name="seat-detail",
    ),
    path(
        "entitlements/<uuid:entitlement_id>/seats/<uuid:seat_id>/revoke",
        vendor.SeatRevokeView.as_view(),
        name="seat-revoke",
    ),
    path(
        "entitlements/<uuid:entitlement_id>/usage",
        vendor.UsageView.as_view(),
        name="entitlement-usage",
    ),
    path(
        "entitlements/<uuid:entitlement_id>/raises",
        vendor.RaiseCollectionView.as_view(),
        name="raise-list",
    ),
    path(
        "entitlements/<uuid:entitlement_id>/statements",
        vendor.StatementCollectionView.as_view(),
        name="statement-list",
    ),
    path(
        "entitlements/<uuid:entitlement_id>/statements/provisional",
        vendor.StatementProvisionalView.as_view(),
        name="statement-provisional",
    ),
    path(
        "statements/<uuid:statement_id>",
        vendor.StatementDetailView.as_view(),
        name="statement-detail",
    ),
    path(
        "expansion-requests",
        vendor.ExpansionRequestCollectionView.as_view(),
        name="expansion-request-list",
    ),
    path(
        "expansion-requests/<uuid:request_id>",
        vendor.ExpansionRequestDetailView.as_view(),
        name="expansion-request-detail",
    ),
    path(
        "expansion-requests/<uuid:request_id>/grant",
        vendor.ExpansionRequestGrantView.as_view(),
        name="expansion-request-grant",
    ),
    path(
        "expansion-requests/<uuid:request_id>/decline",
        vendor.ExpansionRequestDeclineView.as_view(),
        name="expansion-request-decline",
    ),
    path("raises/<uuid:raise_id>", vendor.RaiseDetailView.as_view(), name="raise-detail"),
    path("raises/<uuid:raise_id>/end", vendor.RaiseEndView.as_view(), name="raise-end"),
    path("events", vendor_events.EventListView.as_view(), name="event-list"),
]
