"""Forms of single sign-on: the login page's email step, a customer's connection, break-glass."""

from typing import Any

from django import forms

from licensing.models import Membership
from portal.models import SsoConnection


class EmailForm(forms.Form):
    login = forms.EmailField(label="Email", max_length=254)


class ConnectionForm(forms.Form):
    issuer = forms.URLField(
        label="Issuer",
        max_length=500,
        assume_scheme="https",
        help_text="Your provider's issuer, e.g. https://login.acme.com/realms/staff: the portal "
        "reads its /.well-known/openid-configuration when you save.",
    )
    client_id = forms.CharField(label="Client id", max_length=191)
    secret = forms.CharField(
        label="Client secret",
        max_length=191,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Never shown again. Leave empty to keep the saved one.",
    )
    domains = forms.CharField(
        label="Email domains",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line: people whose address ends in one of them sign in through this "
        "provider and join this customer at their first sign-in.",
    )
    default_role = forms.ChoiceField(
        label="Role of new members",
        choices=Membership.Role.choices,
        initial=Membership.Role.VIEWER,
    )
    groups_claim = forms.CharField(
        label="Groups claim",
        max_length=100,
        required=False,
        initial="groups",
        help_text="The ID token claim listing the person's groups.",
    )
    admin_group = forms.CharField(
        label="Admin group",
        max_length=200,
        required=False,
        help_text="Members of this group are admins, everyone else has the role above, at each "
        "sign-in. Empty: roles are managed on the members page.",
    )

    @classmethod
    def for_connection(cls, connection: SsoConnection | None, **kwargs: Any) -> "ConnectionForm":
        if connection is not None:
            kwargs.setdefault(
                "initial",
                {
                    "issuer": connection.issuer,
                    "client_id": connection.app.client_id,
                    "domains": "\n".join(connection.domains.values_list("domain", flat=True)),
                    "default_role": connection.default_role,
                    "groups_claim": connection.groups_claim,
                    "admin_group": connection.admin_group,
                },
            )
        return cls(**kwargs)


class EnforceForm(forms.Form):
    enforced = forms.BooleanField(required=False)


class BreakGlassForm(forms.Form):
    email = forms.EmailField(label="Admin's email")
    minutes = forms.IntegerField(label="Minutes", min_value=1, max_value=24 * 60, initial=60)
