"""Account-team pages: /team/..., namespace `team`."""

from django.urls import path

from portal import audit_views, sso_views, team_views

app_name = "team"

urlpatterns = [
    path("", team_views.home, name="home"),
    path("customers/", team_views.customers, name="customers"),
    path("customers/new", team_views.customer_new, name="customer_new"),
    path("customers/<slug:slug>/", team_views.customer_detail, name="customer"),
    path("customers/<slug:slug>/invitations", team_views.customer_invite, name="customer_invite"),
    path("customers/<slug:slug>/sso/", sso_views.team_connection, name="sso"),
    path("customers/<slug:slug>/sso/enforce", sso_views.team_enforce, name="sso_enforce"),
    path("customers/<slug:slug>/sso/remove", sso_views.team_remove, name="sso_remove"),
    path(
        "customers/<slug:slug>/sso/break-glass",
        sso_views.team_break_glass,
        name="sso_break_glass",
    ),
    path(
        "customers/<slug:slug>/entitlements/new",
        team_views.entitlement_new,
        name="entitlement_new",
    ),
    path(
        "entitlements/<uuid:entitlement_id>/edit",
        team_views.entitlement_edit,
        name="entitlement_edit",
    ),
    path(
        "entitlements/<uuid:entitlement_id>/alerts/",
        team_views.alert_add,
        name="alert_add",
    ),
    path(
        "entitlements/<uuid:entitlement_id>/alerts/<uuid:threshold_id>/remove",
        team_views.alert_remove,
        name="alert_remove",
    ),
    path(
        "entitlements/<uuid:entitlement_id>/alerts/subscribe",
        team_views.alert_subscribe,
        name="alert_subscribe",
    ),
    path(
        "entitlements/<uuid:entitlement_id>/suspend",
        team_views.entitlement_suspend,
        name="entitlement_suspend",
    ),
    path(
        "entitlements/<uuid:entitlement_id>/resume",
        team_views.entitlement_resume,
        name="entitlement_resume",
    ),
    path(
        "entitlements/<uuid:entitlement_id>/raises/",
        team_views.raise_grant,
        name="raise_grant",
    ),
    path("raises/<uuid:raise_id>/end", team_views.raise_end, name="raise_end"),
    path(
        "expansion-requests/<uuid:request_id>/grant",
        team_views.expansion_grant,
        name="expansion_grant",
    ),
    path(
        "expansion-requests/<uuid:request_id>/decline",
        team_views.expansion_decline,
        name="expansion_decline",
    ),
    path("leads/", team_views.leads, name="leads"),
    path("events/", team_views.events, name="events"),
    path("audit/", audit_views.audit_log, name="audit"),
]
