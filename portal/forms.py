from django import forms

from licensing.models import Membership


class NotificationPreferencesForm(forms.Form):
    notify_overdraft = forms.BooleanField(
        required=False,
        label="Overdraft alerts",
        help_text="Email me when an entitlement enters overdraft or reaches its hard limit.",
    )
    notify_denials = forms.BooleanField(
        required=False,
        label="Denial digests",
        help_text="Email me at most hourly when activations were denied at the hard limit.",
    )
    notify_statements = forms.BooleanField(
        required=False,
        label="Statements",
        help_text="Email me when the signed statement of a billing period is issued.",
    )


class CustomerCapForm(forms.Form):
    customer_cap = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=1_000_000,
        label="Your cap",
        help_text=(
            "The most seats your organisation allows in use, from the entitled seats to the"
            " vendor's hard limit. Activations past it are denied. Empty: no cap of your own."
        ),
    )


class KeyRotationForm(forms.Form):
    GRACE_HOURS = [
        (0, "None: the current key stops at once"),
        (1, "1 hour"),
        (24, "24 hours"),
        (72, "3 days"),
    ]

    grace_hours = forms.TypedChoiceField(
        choices=GRACE_HOURS,
        coerce=int,
        initial=24,
        label="The current key keeps working for",
        help_text="Long enough to give every client the new key; seats already held stay held.",
    )


class MemberForm(forms.Form):
    """Which member of the customer a members-page button acts on (by email: memberships have
    no public id)."""

    email = forms.EmailField(
        max_length=254,
        error_messages={
            "required": "Say which member: their email address.",
            "invalid": "“%(value)s” is not an email address.",
        },
    )


class MemberRoleForm(MemberForm):
    role = forms.ChoiceField(
        choices=Membership.Role.choices,
        error_messages={
            "required": "Choose a role: admin or viewer.",
            "invalid_choice": "“%(value)s” is not a role: choose admin or viewer.",
        },
    )


class MemberRemoveForm(MemberForm):
    # Unset: the confirmation page; set: remove.
    confirmed = forms.BooleanField(required=False)


class ExpansionRequestForm(forms.Form):
    seats = forms.IntegerField(
        min_value=1,
        max_value=1_000_000,
        label="Seats wanted",
        help_text="The entitled seats you want; your overdraft allowance stays on top of them.",
    )
    message = forms.CharField(
        required=False,
        max_length=1000,
        strip=True,
        label="Message to your account manager (optional)",
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 1000}),
    )


class AlertThresholdForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[
            ("percent", "A share of the entitled seats"),
            ("overdraft", "In overdraft"),
            ("limit", "At the limit (hard limit or cap)"),
        ],
        label="Alert when use reaches",
    )
    percent = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=200,
        label="Share of the entitled seats (%)",
        help_text="For a share: e.g. 80 alerts at 80% of the entitled seats.",
    )


class AlertSubscriptionForm(forms.Form):
    subscribed = forms.BooleanField(required=False, label="Email me when a threshold is crossed")
