"""Account-team pages for vendor API tokens (/team/tokens/): list, create (shown once), revoke.

Any account-team member sees the team's tokens and may revoke any of them (someone leaving,
a leaked token); a token is always created for the person creating it.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from licensing import services
from licensing.models import ApiToken
from portal.access import staff_required


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What uses it, e.g. “CRM sync”, so you can tell tokens apart."
    )
    read_only = forms.BooleanField(
        required=False, label="Read-only", help_text="May read everything but change nothing."
    )


def _tokens() -> list[ApiToken]:
    active_first = F("revoked_at").asc(nulls_first=True)
    return list(ApiToken.objects.select_related("user").order_by(active_first, "-created_at"))


@staff_required
def token_list(request: HttpRequest) -> HttpResponse:
    return render(request, "tokens/list.html", {"tokens": _tokens(), "form": TokenForm()})


@staff_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if not form.is_valid():
        return render(request, "tokens/list.html", {"tokens": _tokens(), "form": form}, status=400)
    try:
        api_token, token = services.api_token_create(
            user=request.user,
            name=form.cleaned_data["name"],
            read_only=form.cleaned_data["read_only"],
            actor=services.Actor.from_request(request),
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return render(request, "tokens/list.html", {"tokens": _tokens(), "form": form}, status=400)
    response = render(request, "tokens/created.html", {"api_token": api_token, "token": token})
    # The only time the token is shown: keep it out of every cache.
    response["Cache-Control"] = "no-store"
    return response


@staff_required
@require_POST
def token_revoke(request: HttpRequest, token_id: str) -> HttpResponse:
    api_token = get_object_or_404(ApiToken, pk=token_id)
    if services.api_token_revoke(api_token=api_token, actor=services.Actor.from_request(request)):
        messages.success(request, f"Revoked “{api_token.name}”: it stops working at once.")
    return redirect("tokens:list")
