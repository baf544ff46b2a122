"""The webhook endpoint form of the portal's pages (portal.webhook_views)."""

from typing import Any

from django import forms

from licensing.models import Event
from webhooks import services
from webhooks.models import WebhookEndpoint


class EndpointForm(forms.Form):
    url = forms.URLField(
        label="URL",
        max_length=2000,
        assume_scheme="https",
        help_text="Where we POST events. Must be reachable from the internet.",
    )
    # Left out (a form posted by a page from before formats): the endpoint's own, else standard.
    format = forms.ChoiceField(
        choices=WebhookEndpoint.Format.choices,
        required=False,
        initial=WebhookEndpoint.Format.STANDARD,
        widget=forms.RadioSelect,
        help_text="Standard Webhooks: JSON signed with the endpoint's secret, for your own"
        " programs. Slack or Teams: a readable message with a link to the usage chart, for a"
        " channel's incoming webhook URL (not signed: those services ignore signatures).",
    )
    description = forms.CharField(max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        choices=Event.Type.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to receive every event type.",
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        try:
            services.clean_url(url)
        except forms.ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["url"]) from None
        return url

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "url": data["url"],
            "format": data["format"]
            or self.initial.get("format")
            or WebhookEndpoint.Format.STANDARD,
            "description": data["description"],
            "event_types": list(data["event_types"]),
            "enabled": data["enabled"],
        }
