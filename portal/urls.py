from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from licensing.api.schema import DocsView
from portal import member_views, sso_views, views

urlpatterns = [
    # First: the client API's calls are most of the traffic, and resolving tries in order.
    path("api/v1/", include(("licensing.api.urls", "api"), namespace="api")),
    path("", views.home, name="home"),
    path(".well-known/jwks.json", views.jwks, name="jwks"),
    path("admin/login/", views.admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
    # Before allauth's: the login page asks for the email first (single sign-on by domain), and
    # a provider's callback checks more than allauth's does (portal.sso.provider).
    path("accounts/login/", sso_views.login),
    path("accounts/2fa/totp/activate/", sso_views.totp_activate),
    path("accounts/oidc/<str:provider_id>/login/", sso_views.oidc_login),
    path("accounts/oidc/<str:provider_id>/login/callback/", sso_views.oidc_callback),
    path("accounts/", include("allauth.urls")),
    path("team/webhooks/", include(("portal.webhook_urls", "webhooks"), namespace="team_webhooks")),
    path(
        "c/<slug:slug>/webhooks/",
        include(("portal.webhook_urls", "webhooks"), namespace="customer_webhooks"),
    ),
    path("c/<slug:slug>/members/", member_views.members, name="customer_members"),
    path("c/<slug:slug>/members/role", member_views.member_set_role, name="customer_member_role"),
    path("c/<slug:slug>/members/remove", member_views.member_remove, name="customer_member_remove"),
    path(
        "c/<slug:slug>/members/invitations/<uuid:invitation_id>/resend",
        member_views.invitation_resend,
        name="customer_invitation_resend",
    ),
    path(
        "c/<slug:slug>/members/invitations/<uuid:invitation_id>/revoke",
        member_views.invitation_revoke,
        name="customer_invitation_revoke",
    ),
    path("c/", include("portal.customer_urls")),
    path("team/", include("portal.team_urls")),
    path("invitations/<str:token>/", member_views.accept, name="invitation_accept"),
    path("api/v1/", include(("webhooks.api_urls", "webhooks_api"), namespace="webhooks_api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("team/tokens/", include("portal.token_urls", namespace="tokens")),
]

handler400 = "portal.views.bad_request"
handler403 = "portal.views.permission_denied"
handler404 = "portal.views.not_found"
handler500 = "portal.views.server_error"
