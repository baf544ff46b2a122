from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator

from tests.oidc_provider.models import Claims


class Validator(OAuth2Validator):
    # Every claim goes into the ID token, whatever the scope (groups has no standard scope).
    oidc_claim_scope = None

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        user = request.user
        claims = Claims.objects.filter(user=user).first()
        return {
            "email": user.email,
            "email_verified": claims.email_verified if claims else True,
            "name": user.get_full_name() or user.username,
            "groups": sorted(user.groups.values_list("name", flat=True)),
        }

    def get_id_token_dictionary(self, token: Any, token_handler: Any, request: Any) -> Any:
        claims, expiration_time = super().get_id_token_dictionary(token, token_handler, request)
        overrides = Claims.objects.filter(user=request.user).first()
        if overrides is not None:
            claims.update(overrides.id_token_overrides)
        return claims, expiration_time
