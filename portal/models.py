import uuid
from datetime import datetime
from typing import ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from licensing.models import Membership


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: object) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in with an email address.

    Staff users are the vendor's account team; customer users reach their customer through a
    Membership.
    """

    email = models.EmailField("email address", unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(
        default=False, help_text="Vendor account team: manages customers and entitlements."
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name or self.email.split("@")[0]


class Invitation(models.Model):
    """An emailed invitation to join a customer as an admin or viewer.

    Only a hash of the token is stored: the link in the email is the sole copy of the secret.
    """

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        VIEWER = "viewer", "Viewer"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(
        "licensing.Customer", on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitations_sent"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invitations_accepted",
    )
    # A newer invitation to the same address replaced this one (which then expires at once).
    replaced_at = models.DateTimeField(null=True, blank=True)
    # A customer admin (or the account team) withdrew it; its link says so.
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Pending invitations of a customer (customer page, members page).
            models.Index(
                fields=["customer", "-created_at"],
                condition=models.Q(accepted_at__isnull=True),
                name="portal_invitation_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.role} of {self.customer_id})"

    def is_pending(self, now: datetime | None = None) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > (now or timezone.now())
        )


class SsoConnection(models.Model):
    """A customer's single sign-on: its OpenID Connect provider and the email domains it
    speaks for.

    The provider's issuer, client id and secret are django-allauth's `SocialApp` (provider
    `openid_connect`, provider id `c-<slug>`), one per customer; this row holds what the portal
    decides with them. Which customer an email domain or an issuer belongs to is answered by
    `portal.sso.rules`, and only there.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.OneToOneField(
        "licensing.Customer", on_delete=models.CASCADE, related_name="sso_connection"
    )
    app = models.OneToOneField(
        "socialaccount.SocialApp", on_delete=models.PROTECT, related_name="sso_connection"
    )
    issuer = models.URLField(
        max_length=500, help_text="Exactly as the provider's discovery document names it."
    )
    enforced = models.BooleanField(
        default=False, help_text="Members may sign in only through the provider."
    )
    default_role = models.CharField(
        max_length=10,
        choices=Membership.Role.choices,
        default=Membership.Role.VIEWER,
        help_text="The role of a member created at their first sign-in.",
    )
    groups_claim = models.CharField(
        max_length=100,
        blank=True,
        default="groups",
        help_text="The ID token claim that lists the person's groups.",
    )
    admin_group = models.CharField(
        max_length=200,
        blank=True,
        help_text="Members of this group are admins; everyone else has the default role."
        " Empty: roles are managed in the portal.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["customer__name"]

    def __str__(self) -> str:
        return f"single sign-on of {self.customer_id}"


class SsoDomain(models.Model):
    """An email domain whose people sign in through one customer's provider. A domain belongs
    to one connection at most (the constraint), so no email can lead to two customers."""

    connection = models.ForeignKey(SsoConnection, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253)

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(fields=["domain"], name="portal_ssodomain_one_connection"),
            models.CheckConstraint(
                condition=models.Q(domain=Lower("domain")),
                name="portal_ssodomain_lowercase",
            ),
        ]

    def __str__(self) -> str:
        return self.domain


class SsoBreakGlass(models.Model):
    """A password sign-in allowed, for a while, to a person whose single sign-on is enforced
    (their provider is down or misconfigured). Granted by the account team or with
    `manage.py sso_break_glass`; both audited."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sso_break_glass")
    expires_at = models.DateTimeField()
    granted_by = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Is a password sign-in allowed for this user now (the login form).
            models.Index(fields=["user", "-expires_at"], name="portal_breakglass_user"),
        ]

    def __str__(self) -> str:
        return f"break-glass for {self.user_id} until {self.expires_at:%Y-%m-%d %H:%M}"
