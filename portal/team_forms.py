"""Forms of the account-team pages and of invitations."""

from __future__ import annotations

import math
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from licensing import services
from licensing.models import (
    MAX_OFFLINE_GRACE_SECONDS,
    BillingPeriod,
    Customer,
    Entitlement,
    Event,
    Product,
    TemporaryRaise,
)
from portal.models import Invitation, User

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class FilterTextField(forms.CharField):
    """Free text of a search or filter box (a GET parameter that reaches a query).

    Refused, with the message every text input gets, when the database cannot compare it:
    PostgreSQL refuses NUL in text, so the query would fail with a 500.
    """

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value:
            services.check_characters(str(self.label or "Text"), value)


class CustomerSearchForm(forms.Form):
    q = FilterTextField(label="Search", required=False)


class CustomerForm(forms.Form):
    name = forms.CharField(max_length=200)
    account_manager = forms.ModelChoiceField(
        queryset=User.objects.filter(is_staff=True, is_active=True),
        required=False,
        help_text="Hears about this customer's overdraft and denials.",
    )


class OverdraftMode:
    NONE = "none"
    SEATS = "seats"
    PERCENT = "percent"
    UNLIMITED = "unlimited"
    CHOICES = [
        (NONE, "None: the hard limit is the entitled seats"),
        (SEATS, "Extra seats"),
        (PERCENT, "A percentage of the seats (rounded up)"),
        (UNLIMITED, "Unlimited overdraft (no hard limit)"),
    ]


def hard_limit_for(seats: int, mode: str, extra: int | None, percent: int | None) -> int | None:
    """The hard limit an overdraft allowance gives; None is unlimited.

    static/js/team-entitlement-form.js computes the same preview in the browser.
    """
    if mode == OverdraftMode.UNLIMITED:
        return None
    if mode == OverdraftMode.SEATS:
        return seats + (extra or 0)
    if mode == OverdraftMode.PERCENT:
        return seats + math.ceil(seats * (percent or 0) / 100)
    return seats


class EntitlementForm(forms.Form):
    product = forms.ModelChoiceField(
        label="Existing product",
        queryset=Product.objects.all(),
        required=False,
        empty_label="(a new product)",
    )
    new_product = forms.CharField(
        label="New product name",
        max_length=200,
        required=False,
        help_text="Leave empty when choosing an existing product.",
    )
    seats = forms.IntegerField(min_value=0, max_value=10_000_000, help_text="Entitled seats.")
    overdraft = forms.ChoiceField(
        label="Overdraft allowance",
        choices=OverdraftMode.CHOICES,
        widget=forms.RadioSelect,
        initial=OverdraftMode.PERCENT,
    )
    overdraft_seats = forms.IntegerField(
        label="Extra seats", min_value=0, max_value=10_000_000, required=False
    )
    overdraft_percent = forms.IntegerField(
        label="Percentage", min_value=0, max_value=1000, required=False, initial=20
    )
    lease_seconds = forms.IntegerField(
        label="Lease (seconds)",
        min_value=1,
        max_value=365 * 24 * 3600,
        required=False,
        help_text="Floating seats must heartbeat within this lease. Empty: named seats.",
    )
    starts_at = forms.DateTimeField(
        label="Starts (UTC)",
        input_formats=DATETIME_FORMATS,
        widget=DateTimeInput(),
        required=False,
        help_text="Empty: starts now.",
    )
    ends_at = forms.DateTimeField(
        label="Ends (UTC)",
        input_formats=DATETIME_FORMATS,
        widget=DateTimeInput(),
        required=False,
        help_text="Empty: no end.",
    )
    billing_period = forms.ChoiceField(
        label="Billing period",
        choices=BillingPeriod.choices,
        initial=BillingPeriod.MONTHLY,
        required=False,
        help_text="A signed statement is issued when each period closes, counted from the start.",
    )
    offline_grace_hours = forms.IntegerField(
        label="Offline grace (hours)",
        min_value=0,
        max_value=MAX_OFFLINE_GRACE_SECONDS // 3600,
        required=False,
        help_text="How long a client may work without reaching the portal, past its lease."
        " Empty: 72 for named seats, 0 for floating ones.",
    )
    free_overdraft_seat_hours = forms.IntegerField(
        label="Free overdraft seat-hours",
        min_value=0,
        max_value=1_000_000_000,
        required=False,
        initial=0,
        help_text="Per billing period, not billed; the allowance in force at a period's start"
        " applies to it.",
    )

    # Service errors name model fields; show them next to the inputs that set them.
    SERVICE_FIELDS = {
        "hard_limit": "overdraft",
        "seats": "seats",
        "lease_seconds": "lease_seconds",
        "starts_at": "starts_at",
        "ends_at": "ends_at",
        "billing_period": "billing_period",
        "free_overdraft_seat_hours": "free_overdraft_seat_hours",
        "offline_grace_seconds": "offline_grace_hours",
    }

    def __init__(self, *args: Any, entitlement: Entitlement | None = None, **kwargs: Any) -> None:
        self.entitlement = entitlement
        if entitlement is not None:
            kwargs.setdefault("initial", initial_for(entitlement))
        super().__init__(*args, **kwargs)
        if entitlement is not None:
            # The product of an entitlement is fixed: its license key was sold for it.
            del self.fields["product"], self.fields["new_product"]
            self.fields["starts_at"].help_text = "Empty: unchanged."

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.entitlement is None:
            product, new_name = data.get("product"), (data.get("new_product") or "").strip()
            if product is None and not new_name:
                self.add_error("product", "Choose a product or type the name of a new one.")
            elif product is not None and new_name:
                self.add_error("new_product", "Choose a product or type a new name, not both.")
        mode = data.get("overdraft")
        if mode == OverdraftMode.SEATS and data.get("overdraft_seats") is None:
            self.add_error("overdraft_seats", "How many extra seats?")
        if mode == OverdraftMode.PERCENT and data.get("overdraft_percent") is None:
            self.add_error("overdraft_percent", "What percentage of the seats?")
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", "The end must be after the start.")
        return data

    @property
    def hard_limit(self) -> int | None:
        data = self.cleaned_data
        return hard_limit_for(
            data["seats"],
            data["overdraft"],
            data.get("overdraft_seats"),
            data.get("overdraft_percent"),
        )

    def terms(self) -> dict[str, Any]:
        """The entitlement's terms as the services take them (`entitlement_create/update`).

        An empty start, billing period or free allowance is left out: a new entitlement then
        starts now, monthly, with none free; an edited one keeps its own.
        """
        data = self.cleaned_data
        terms = {
            "seats": data["seats"],
            "hard_limit": self.hard_limit,
            "lease_seconds": data["lease_seconds"],
            "ends_at": data["ends_at"],
        }
        for name in ("starts_at", "billing_period", "free_overdraft_seat_hours"):
            if data[name] not in (None, ""):
                terms[name] = data[name]
        # Empty is the default grace (licensing.leases). An edit that leaves the field as it
        # was keeps the grace (one set in seconds through the API may be no whole hour).
        hours = data.get("offline_grace_hours")
        if self.entitlement is None or "offline_grace_hours" in self.changed_data:
            terms["offline_grace_seconds"] = None if hours is None else hours * 3600
        return terms

    def hard_limit_preview(self) -> str:
        """The hard limit the submitted (or initial) values give, for the page's preview."""
        values = self.data if self.is_bound else {**self.initial}

        def number(name: str) -> int | None:
            value = values.get(name, self.fields[name].initial)
            try:
                return int(value) if value not in (None, "") else None
            except (TypeError, ValueError):
                return None

        seats = number("seats")
        if seats is None or seats < 0:
            return "—"
        mode = values.get("overdraft") or self.fields["overdraft"].initial
        limit = hard_limit_for(seats, mode, number("overdraft_seats"), number("overdraft_percent"))
        return "unlimited" if limit is None else str(limit)

    def add_service_errors(self, error: ValidationError) -> None:
        add_service_errors(self, error, self.SERVICE_FIELDS)


def add_service_errors(
    form: forms.Form, error: ValidationError, fields: dict[str, str] | None = None
) -> None:
    """Show a service's ValidationError on `form`: each field's errors on the form field it
    names (or, with `fields`, the form field mapped to that service argument), the rest on
    the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, errors in error.error_dict.items():
        field = name if fields is None else fields.get(name)
        for item in errors:
            form.add_error(field if field in form.fields else None, item)


def initial_for(entitlement: Entitlement) -> dict[str, Any]:
    if entitlement.hard_limit is None:
        mode, extra = OverdraftMode.UNLIMITED, None
    elif entitlement.hard_limit == entitlement.seats:
        mode, extra = OverdraftMode.NONE, None
    else:
        mode, extra = OverdraftMode.SEATS, entitlement.hard_limit - entitlement.seats
    return {
        "seats": entitlement.seats,
        "overdraft": mode,
        "overdraft_seats": extra,
        "overdraft_percent": None,
        "lease_seconds": entitlement.lease_seconds,
        "starts_at": entitlement.starts_at,
        "ends_at": entitlement.ends_at,
        "billing_period": entitlement.billing_period,
        "free_overdraft_seat_hours": entitlement.free_overdraft_seat_hours,
        "offline_grace_hours": (
            None
            if entitlement.offline_grace_seconds is None
            else entitlement.offline_grace_seconds // 3600
        ),
    }


class RaiseForm(forms.Form):
    """A temporary raise (`services.raise_grant`); the service judges the numbers and dates
    and its errors show on these fields, which carry its argument names."""

    extra_seats = forms.IntegerField(label="Extra seats", initial=0)
    extra_hard_limit = forms.IntegerField(label="Extra hard limit", initial=0)
    starts_at = forms.DateTimeField(
        label="Starts (UTC)",
        input_formats=DATETIME_FORMATS,
        widget=DateTimeInput(),
        required=False,
        help_text="Empty: now.",
    )
    ends_at = forms.DateTimeField(
        label="Ends (UTC)", input_formats=DATETIME_FORMATS, widget=DateTimeInput()
    )
    reason = forms.CharField(
        label="Reason",
        required=False,
        strip=True,
        help_text="Shown to the customer, e.g. “quarter close”.",
        widget=forms.TextInput(
            attrs={"maxlength": TemporaryRaise._meta.get_field("reason").max_length}
        ),
    )

    def __init__(self, *args: Any, entitlement: Entitlement, **kwargs: Any) -> None:
        # Its own ids: the edit page's terms form has a start and an end too.
        kwargs.setdefault("auto_id", "id_raise_%s")
        super().__init__(*args, **kwargs)
        self.fields["extra_seats"].help_text = f"Added to the {entitlement.seats} entitled."
        self.fields["extra_hard_limit"].help_text = (
            "The overdraft is unlimited: leave it at 0."
            if entitlement.hard_limit is None
            else f"Added to the hard limit of {entitlement.hard_limit}."
        )

    def add_service_errors(self, error: ValidationError) -> None:
        add_service_errors(self, error)


class EventFilterForm(forms.Form):
    type = forms.ChoiceField(choices=[("", "Any type"), *Event.Type.choices], required=False)
    customer = forms.SlugField(required=False, help_text="Customer slug, as in its page's address.")
    entitlement = forms.UUIDField(required=False, help_text="Entitlement id.")
    start = forms.DateTimeField(
        label="From (UTC)", input_formats=DATETIME_FORMATS, widget=DateTimeInput(), required=False
    )
    end = forms.DateTimeField(
        label="To (UTC)", input_formats=DATETIME_FORMATS, widget=DateTimeInput(), required=False
    )

    def clean_customer(self) -> Customer | None:
        slug = self.cleaned_data.get("customer")
        if not slug:
            return None
        customer = Customer.objects.filter(slug=slug).first()
        if customer is None:
            raise ValidationError(f"No customer has the slug “{slug}”.")
        return customer

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            self.add_error("end", "“To” must be after “From”.")
        return data


class InvitationForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=Invitation.Role.choices, initial=Invitation.Role.ADMIN)

    def __init__(self, *args: Any, roles: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if roles is not None and len(roles) == 1:
            del self.fields["role"]  # the page decides the role: nothing to choose
        elif roles is not None:
            field = self.fields["role"]
            assert isinstance(field, forms.ChoiceField)
            field.choices = [(v, label) for v, label in Invitation.Role.choices if v in roles]
            field.initial = roles[0]


class AcceptNewUserForm(forms.Form):
    name = forms.CharField(max_length=150, required=False, label="Your name")
    password1 = forms.CharField(
        label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label="Password (again)",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        one, two = data.get("password1"), data.get("password2")
        if one and two and one != two:
            self.add_error("password2", "The two passwords differ.")
        return data


class ExpansionNoteForm(forms.Form):
    """The account team's optional note when granting or declining a request for seats."""

    note = forms.CharField(
        required=False,
        max_length=1000,
        strip=True,
        label="Note to the customer (optional)",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 1000}),
    )
