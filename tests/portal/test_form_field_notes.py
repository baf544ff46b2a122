"""A field's help text and errors carry the ids its input's aria-describedby names (issue 24).

Django (5.0+) writes `aria-describedby="<id>_helptext <id>_error"` on a widget whose field has
help text or errors; the notes themselves are ours to write, once, in team/_field_notes.html.
Until then /team/tokens/ named `id_name_helptext` and `id_read_only_helptext`, and no element
had those ids, so a screen reader never read the help.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from django import forms
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from portal.models import User


class _References(HTMLParser):
    """The ids on a page, and the ids its aria-describedby attributes name."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.described: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if found.get("aria-describedby"):
            self.described[str(found.get("id") or tag)] = str(found["aria-describedby"]).split()


def dangling(html: str) -> dict[str, list[str]]:
    """Per element, the ids its aria-describedby names that are not on the page."""
    page = _References()
    page.feed(html)
    missing = {
        element: [name for name in names if name not in page.ids]
        for element, names in page.described.items()
    }
    return {element: names for element, names in missing.items() if names}


class _EveryKind(forms.Form):
    name = forms.CharField(help_text="What it is called.")
    seats = forms.IntegerField(min_value=1)
    kind = forms.ChoiceField(choices=[("a", "A"), ("b", "B")], help_text="Which one.")
    read_only = forms.BooleanField(required=False, help_text="Changes nothing.")


def test_help_text_and_errors_have_the_ids_the_inputs_name() -> None:
    form = _EveryKind({"name": "", "seats": "0", "kind": "a"})
    assert not form.is_valid()

    html = render_to_string("team/_form_fields.html", {"form": form})

    assert dangling(html) == {}
    # Written out: the errors right under the input, then the help text.
    assert 'aria-describedby="id_name_helptext id_name_error"' in html
    assert '<small id="id_name_error" class="field-error">This field is required.</small>' in html
    assert '<small id="id_name_helptext">What it is called.</small>' in html
    assert 'aria-describedby="id_seats_error"' in html
    assert 'aria-describedby="id_kind_helptext"' in html
    assert 'aria-describedby="id_read_only_helptext"' in html
    assert '<small id="id_read_only_helptext">Changes nothing.</small>' in html


def test_the_tokens_page_describes_its_fields(client: Client, account_manager: User) -> None:
    client.force_login(account_manager)
    page = client.get(reverse("tokens:list")).content.decode()
    refused = client.post(reverse("tokens:create"), {"name": ""})

    assert dangling(page) == {}
    assert 'aria-describedby="id_name_helptext"' in page
    assert 'aria-describedby="id_read_only_helptext"' in page
    assert refused.status_code == 400
    assert dangling(refused.content.decode()) == {}
    assert 'aria-describedby="id_name_helptext id_name_error"' in refused.content.decode()


def test_allauth_fields_name_their_errors(client: Client, customer_admin: User) -> None:
    """The password change form (allauth's field element) with errors."""
    client.force_login(customer_admin)
    response: Any = client.post(
        reverse("account_change_password"),
        {"oldpassword": "wrong", "password1": "x", "password2": "y"},
    )
    html = response.content.decode()

    assert response.status_code == 200
    assert 'aria-invalid="true"' in html
    assert dangling(html) == {}
    assert 'id="id_oldpassword_error"' in html
