"""The account team's audit log (/team/audit/): who changed what, newest first."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from licensing import selectors
from licensing.models import AuditEntry, Customer
from portal.access import staff_required
from portal.team_forms import FilterTextField

PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    actor = FilterTextField(
        label="Actor",
        required=False,
        max_length=255,
        help_text="Part of an email address or token prefix.",
    )
    action = forms.ChoiceField(
        choices=[("", "Any action"), *AuditEntry.Action.choices], required=False
    )
    customer = forms.SlugField(required=False, help_text="Customer slug, as in its page's address.")

    def clean_customer(self) -> Customer | None:
        slug = self.cleaned_data["customer"]
        if not slug:
            return None
        customer = Customer.objects.filter(slug=slug).first()
        if customer is None:
            raise forms.ValidationError("No customer has this slug.")
        return customer


@staff_required
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    page = None
    if not form.is_bound or form.is_valid():
        data = form.cleaned_data if form.is_bound else {}
        entries = selectors.audit_entries(
            actor=data.get("actor") or "",
            action=data.get("action") or "",
            customer=data.get("customer"),
        )
        page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    filters = urlencode([(k, v) for k, v in request.GET.items() if k != "page" and v])
    return render(
        request,
        "team/audit.html",
        {"form": form, "page": page, "filters": filters, "section": "audit"},
    )
