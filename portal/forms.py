from django import forms


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
