"""The webhook endpoint form of the portal's pages (portal.webhook_views)."""

from typing import Any

from django import forms

from licensing.models import Event
from webhooks import services


class EndpointForm(forms.Form):
    url = forms.URLField(
        label="URL",
        max_length=2000,
        assume_scheme="https",
        help_text="Where we POST events. Must be reachable from the internet.",
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
            "description": data["description"],
            "event_types": list(data["event_types"]),
            "enabled": data["enabled"],
        }
