import hmac
import json
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.models import get_application_model
from oauth2_provider.views import ConnectDiscoveryInfoView

from tests.oidc_provider.models import Claims


@csrf_exempt
def setup(request: HttpRequest) -> HttpResponse:
    """Register client applications and users (tests only: the fixture's token guards it).

    Body: {"applications": [{"client_id", "client_secret", "redirect_uris": [...]}],
           "users": [{"username", "password", "email", "email_verified", "groups",
                      "id_token_overrides"}]}
    """
    given = request.headers.get("Authorization", "")
    if request.method != "POST" or not hmac.compare_digest(given, f"Bearer {settings.SETUP_TOKEN}"):
        return JsonResponse({"error": "forbidden"}, status=403)
    body: dict[str, Any] = json.loads(request.body)
    application_model = get_application_model()
    for app in body.get("applications", []):
        application_model.objects.update_or_create(
            client_id=app["client_id"],
            defaults={
                "name": app["client_id"],
                "client_secret": app["client_secret"],
                "client_type": application_model.CLIENT_CONFIDENTIAL,
                "authorization_grant_type": application_model.GRANT_AUTHORIZATION_CODE,
                "redirect_uris": " ".join(app["redirect_uris"]),
                "algorithm": application_model.RS256_ALGORITHM,
                "skip_authorization": True,
            },
        )
    for spec in body.get("users", []):
        user, _ = User.objects.get_or_create(username=spec["username"])
        user.email = spec.get("email", "")
        user.set_password(spec["password"])
        user.save()
        user.groups.set(
            Group.objects.get_or_create(name=name)[0] for name in spec.get("groups", [])
        )
        Claims.objects.update_or_create(
            user=user,
            defaults={
                "email_verified": spec.get("email_verified", True),
                "id_token_overrides": spec.get("id_token_overrides", {}),
            },
        )
    return JsonResponse({"ok": True})


def other_issuer_discovery(request: HttpRequest) -> HttpResponse:
    """A discovery document at another address that names the real issuer (/o): what a
    wrong issuer URL typed into the portal finds."""
    return ConnectDiscoveryInfoView.as_view()(request)
