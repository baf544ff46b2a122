"""Customer pages: /c/<slug>/..., namespace `customer`."""

from django.urls import path

from portal import sso_views, statement_views, views

app_name = "customer"

urlpatterns = [
    path("<slug:slug>/", views.customer_dashboard, name="dashboard"),
    path(
        "<slug:slug>/entitlements/<uuid:entitlement_id>/",
        views.entitlement_detail,
        name="entitlement",
    ),
    path(
        "<slug:slug>/entitlements/<uuid:entitlement_id>/usage.csv",
        views.entitlement_usage_csv,
        name="usage_csv",
    ),
    path(
        "<slug:slug>/entitlements/<uuid:entitlement_id>/key/rotate",
        views.license_key_rotate,
        name="license_key_rotate",
    ),
    path(
        "<slug:slug>/entitlements/<uuid:entitlement_id>/alerts/",
        views.alert_add,
        name="alert_add",
    ),
    path(
        "<slug:slug>/entitlements/<uuid:entitlement_id>/alerts/<uuid:threshold_id>/remove",
        views.alert_remove,
        name="alert_remove",
    ),
    path(
        "<slug:slug>/entitlements/<uuid:entitlement_id>/alerts/subscribe",
        views.alert_subscribe,
        name="alert_subscribe",
    ),
    path(
        "<slug:slug>/entitlements/<uuid:entitlement_id>/cap",
        views.customer_cap,
        name="customer_cap",
    ),
    path(
        "<slug:slug>/entitlements/<uuid:entitlement_id>/request-seats",
        views.request_seats,
        name="request_seats",
    ),
    path(
        "<slug:slug>/entitlements/<uuid:entitlement_id>/seats/<uuid:seat_id>/release",
        views.seat_release,
        name="seat_release",
    ),
    path(
        "<slug:slug>/entitlements/<uuid:entitlement_id>/statements/",
        statement_views.statements,
        name="statements",
    ),
    # The statement of the period running now, built on demand (not stored).
    path(
        "<slug:slug>/entitlements/<uuid:entitlement_id>/statements/provisional/",
        statement_views.statement_page,
        name="statement_provisional",
    ),
    path(
        "<slug:slug>/entitlements/<uuid:entitlement_id>/statements/provisional.pdf",
        statement_views.statement_pdf,
        name="statement_provisional_pdf",
    ),
    path(
        "<slug:slug>/entitlements/<uuid:entitlement_id>/statements/provisional.csv",
        statement_views.statement_csv,
        name="statement_provisional_csv",
    ),
    path(
        "<slug:slug>/entitlements/<uuid:entitlement_id>/statements/provisional.json",
        statement_views.statement_json,
        name="statement_provisional_json",
    ),
    path(
        "<slug:slug>/entitlements/<uuid:entitlement_id>/statements/<uuid:statement_id>/",
        statement_views.statement_page,
        name="statement",
    ),
    path(
        "<slug:slug>/entitlements/<uuid:entitlement_id>/statements/<uuid:statement_id>.pdf",
        statement_views.statement_pdf,
        name="statement_pdf",
    ),
    path(
        "<slug:slug>/entitlements/<uuid:entitlement_id>/statements/<uuid:statement_id>.csv",
        statement_views.statement_csv,
        name="statement_csv",
    ),
    path(
        "<slug:slug>/entitlements/<uuid:entitlement_id>/statements/<uuid:statement_id>.json",
        statement_views.statement_json,
        name="statement_json",
    ),
    path("<slug:slug>/sso/", sso_views.customer_connection, name="sso"),
    path("<slug:slug>/sso/enforce", sso_views.customer_enforce, name="sso_enforce"),
    path("<slug:slug>/sso/remove", sso_views.customer_remove, name="sso_remove"),
    path(
        "<slug:slug>/settings/notifications",
        views.notification_settings,
        name="notifications",
    ),
]
