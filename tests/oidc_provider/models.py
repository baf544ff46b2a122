from django.conf import settings
from django.db import models


class Claims(models.Model):
    """What the provider says about one of its users beyond Django's user: whether the email
    is verified, and claims forced into the ID token (a misbehaving provider, on purpose)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="claims"
    )
    email_verified = models.BooleanField(default=True)
    id_token_overrides = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"claims of {self.user}"
