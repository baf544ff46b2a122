"""Statements on the customer pages: who sees them, the list, one statement as a page, PDF,
CSV and signed JSON, and the provisional one of the period so far. Every figure shown is the
signed document's, never recomputed."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from licensing import services, signing
from licensing.models import Entitlement, Statement, UsageBucket
from portal.models import User

pytestmark = pytest.mark.django_db

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def _url(name: str, entitlement: Entitlement, statement: Statement | None = None) -> str:
    kwargs: dict[str, Any] = {"slug": entitlement.customer.slug, "entitlement_id": entitlement.pk}
    if statement is not None:
        kwargs["statement_id"] = statement.pk
    return reverse(f"customer:{name}", kwargs=kwargs)


@pytest.fixture
def january(billed: Entitlement) -> Statement:
    return Statement.objects.get(entitlement=billed)


# --- who sees them --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["statements", "statement", "statement_pdf", "statement_json"])
def test_members_and_the_account_team_see_statements_and_no_one_else(
    login: Callable[[User], Client],
    client: Client,
    billed: Entitlement,
    january: Statement,
    customer_admin: User,
    viewer: User,
    account_manager: User,
    outsider: User,
    name: str,
) -> None:
    url = _url(name, billed, None if name == "statements" else january)

    assert client.get(url).status_code == 302  # anonymous: to the login page
    for user in (customer_admin, viewer, account_manager):
        assert login(user).get(url).status_code == 200, user
    assert login(outsider).get(url).status_code == 404


def test_an_outsider_gets_404_under_their_own_slug_too(
    login: Callable[[User], Client], billed: Entitlement, january: Statement, outsider: User
) -> None:
    globex = outsider.memberships.get().customer
    url = reverse(
        "customer:statement",
        kwargs={"slug": globex.slug, "entitlement_id": billed.pk, "statement_id": january.pk},
    )
    assert login(outsider).get(url).status_code == 404


def test_a_statement_under_another_entitlement_is_not_found(
    login: Callable[[User], Client],
    billed: Entitlement,
    january: Statement,
    make_entitlement: Callable[..., Entitlement],
    viewer: User,
) -> None:
    other = make_entitlement(seats=5, hard_limit=5)
    url = reverse(
        "customer:statement_json",
        kwargs={
            "slug": other.customer.slug,
            "entitlement_id": other.pk,
            "statement_id": january.pk,
        },
    )
    assert login(viewer).get(url).status_code == 404


# --- the list -------------------------------------------------------------------------------


def test_the_list_shows_the_issued_statements_and_the_period_so_far(
    login: Callable[[User], Client], billed: Entitlement, january: Statement, viewer: User
) -> None:
    response = login(viewer).get(_url("statements", billed))

    html = response.content.decode()
    assert "Period so far" in html and "Provisional" in html
    current = response.context["current"]
    assert current.provisional and current.label == "Feb 2026"
    assert current.figures["overdraft_seat_hours"] == 2  # 3 Feb 09:00 and 10:00, one seat over
    (sheet, urls), *others = response.context["rows"]
    assert not others
    assert sheet.statement == january and sheet.label == "Jan 2026"
    assert urls == {
        "html": _url("statement", billed, january),
        "pdf": _url("statement_pdf", billed, january),
        "csv": _url("statement_csv", billed, january),
        "json": _url("statement_json", billed, january),
    }
    for url in urls.values():
        assert f'href="{url}"' in html
    assert f'href="{_url("statement_provisional_pdf", billed)}"' in html
    row = html[html.index('<th scope="row"><a href="' + urls["html"]) :]
    row = re.sub(r">\s+<", "><", row[: row.index("</tr>")])
    # Peak 12, 7 overdraft seat-hours, 2 billable, 1 denial: January's signed figures.
    assert (
        '<td class="num">12</td><td class="num">7</td>'
        '<td class="num"><strong>2</strong></td><td class="num">1</td>'
    ) in row


def test_statements_are_listed_newest_first(
    login: Callable[[User], Client], billed: Entitlement, viewer: User, time_machine: Any
) -> None:
    time_machine.move_to("2026-04-01T01:00:00+00:00", tick=False)
    assert services.statements_issue_due() == 2  # February, March

    response = login(viewer).get(_url("statements", billed))

    labels = [sheet.label for sheet, _ in response.context["rows"]]
    assert labels == ["Mar 2026", "Feb 2026", "Jan 2026"]
    assert response.context["current"].label == "Apr 2026"


def test_the_list_costs_the_same_queries_for_more_statements(
    login: Callable[[User], Client], billed: Entitlement, viewer: User, time_machine: Any
) -> None:
    client, url = login(viewer), _url("statements", billed)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    time_machine.move_to("2026-06-01T01:00:00+00:00", tick=False)
    assert services.statements_issue_due() == 4
    client = login(viewer)  # the session of February has expired
    with CaptureQueriesContext(connection) as five:
        response = client.get(url)
    assert len(response.context["rows"]) == 5
    assert len(five) == len(one)


def test_before_the_first_statement_the_page_says_when_it_comes(
    login: Callable[[User], Client],
    make_entitlement: Callable[..., Entitlement],
    customer_admin: User,
    time_machine: Any,
) -> None:
    time_machine.move_to("2026-03-10T08:30:00+00:00", tick=False)
    entitlement = make_entitlement(seats=5, hard_limit=6, billing_period="quarterly")

    html = login(customer_admin).get(_url("statements", entitlement)).content.decode()

    assert "No statement yet" in html
    assert "Statements appear here when a billing period closes." in html
    assert "Mar to May 2026" in html
    assert "issued shortly after it closes on" in html and "10 Jun 2026" in html
    assert "Period so far" in html  # the quarter so far, provisional


def test_the_entitlement_page_and_the_team_link_to_the_statements(
    login: Callable[[User], Client],
    billed: Entitlement,
    customer_admin: User,
    account_manager: User,
) -> None:
    url = _url("statements", billed)
    assert (
        f'href="{url}"' in login(customer_admin).get(_url("entitlement", billed)).content.decode()
    )
    dashboard = reverse("customer:dashboard", args=[billed.customer.slug])
    assert f'href="{url}"' in login(customer_admin).get(dashboard).content.decode()
    edit = reverse("team:entitlement_edit", args=[billed.pk])
    assert f'href="{url}"' in login(account_manager).get(edit).content.decode()


# --- one statement --------------------------------------------------------------------------


def test_the_page_shows_the_signed_figures_even_if_the_history_changed_since(
    login: Callable[[User], Client], billed: Entitlement, january: Statement, viewer: User
) -> None:
    UsageBucket.objects.filter(entitlement=billed).delete()  # history gone: nothing to recompute

    response = login(viewer).get(_url("statement", billed, january))

    html = response.content.decode()
    assert "Design Studio — Jan 2026" in html and "Acme Corp" in html
    assert "1 Jan 2026 to 31 Jan 2026" in html  # the period, whole days
    assert "1 Feb 2026 00:20" in html  # issued
    assert january.kid in html and "Provisional" not in html
    figures = dict((key, value) for key, _label, value in response.context["sheet"].figure_rows())
    assert figures == january.signed["payload"]["figures"]
    assert figures["overdraft_seat_hours"] == 7 and figures["billable_overdraft_seat_hours"] == 2
    assert (
        '<tr class="figure-billable_overdraft_seat_hours"><th scope="row">Billable overdraft'
        ' seat-hours</th><td class="num">2</td></tr>'
    ) in html
    assert (
        '<tr class="figure-denials"><th scope="row">Denied activations</th><td class="num">1</td>'
        in html
    )
    # Terms, the utilization chart (12 bars: 1 to 12 seats) and how to verify.
    assert "Start of the period" in html and "unlimited" not in html
    assert html.count('<rect class="bar ') == 12
    assert html.count('class="bar bar-overdraft"') == 1 and html.count('class="bar bar-limit"') == 1
    assert "http://testserver/.well-known/jwks.json" not in html  # SITE_URL, not the request
    assert "/.well-known/jwks.json" in html and "manage.py verify_statement" in html
    assert 'style="' not in html and "<script>" not in html


def test_the_provisional_page_is_marked_and_covers_the_period_so_far(
    login: Callable[[User], Client], billed: Entitlement, viewer: User
) -> None:
    response = login(viewer).get(_url("statement_provisional", billed))

    html = response.content.decode()
    assert response.status_code == 200
    assert '<p class="statement-banner" role="note"><strong>Provisional</strong>' in html
    assert "as of <time" in html and "10 Feb 2026 12:00" in html
    assert "Design Studio — Feb 2026" in html
    sheet = response.context["sheet"]
    assert sheet.provisional and sheet.statement is None
    assert sheet.figures["overdraft_seat_hours"] == 2
    assert sheet.figures["billable_overdraft_seat_hours"] == 0  # 5 free
    assert not Statement.objects.exclude(period_start__month=1).exists()  # not stored


def test_no_provisional_statement_before_the_entitlement_starts(
    login: Callable[[User], Client],
    make_entitlement: Callable[..., Entitlement],
    viewer: User,
    time_machine: Any,
) -> None:
    time_machine.move_to("2026-03-10T08:30:00+00:00", tick=False)
    later = make_entitlement(seats=5, hard_limit=6, starts_at=datetime(2026, 4, 1, tzinfo=UTC))
    client = login(viewer)

    assert client.get(_url("statement_provisional", later)).status_code == 404
    page = client.get(_url("statements", later))
    assert page.status_code == 200 and page.context["current"] is None


def test_the_csv_has_the_figures_then_the_utilization(
    login: Callable[[User], Client], billed: Entitlement, january: Statement, viewer: User
) -> None:
    response = login(viewer).get(_url("statement_csv", billed, january))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="acme-corp-design-studio-statement-2026-01-01.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    blank = rows.index([])
    figures, utilization = dict(rows[1:blank]), rows[blank + 1 :]
    assert rows[0] == ["figure", "value"]
    assert figures["customer"] == "Acme Corp" and figures["period"] == "Jan 2026"
    assert figures["period_start_utc"] == "2026-01-01T00:00:00+00:00"
    assert figures["provisional"] == "no" and figures["key_id"] == january.kid
    assert figures["overdraft_seat_hours"] == "7"
    assert figures["billable_overdraft_seat_hours"] == "2"
    assert figures["free_overdraft_seat_hours"] == "5"
    assert utilization[0] == ["seats", "hours_at_or_above", "share_of_hours_percent"]
    assert len(utilization) == 1 + 12
    hours = int(figures["hours"])
    assert utilization[-1] == ["12", "2", f"{100 * 2 / hours:.1f}"]  # 6 Jan 09:00 and 10:00


def test_the_json_is_the_signed_document_byte_for_byte(
    login: Callable[[User], Client], billed: Entitlement, january: Statement, viewer: User
) -> None:
    response = login(viewer).get(_url("statement_json", billed, january))

    assert response["Content-Type"] == "application/json"
    assert response.content == january.document.encode()
    assert response["Content-Disposition"].endswith('statement-2026-01-01.json"')
    payload = signing.verify(response.content, signing.jwks())
    assert payload["figures"]["billable_overdraft_seat_hours"] == 2


def test_the_provisional_json_is_signed_and_says_so(
    login: Callable[[User], Client], billed: Entitlement, viewer: User
) -> None:
    response = login(viewer).get(_url("statement_provisional_json", billed))

    payload = signing.verify(response.content, signing.jwks())
    assert payload["provisional"] is True and payload["as_of"] == "2026-02-10T12:00:00+00:00"
    assert response["Content-Disposition"].endswith('statement-2026-02-01-provisional.json"')


# --- the PDF --------------------------------------------------------------------------------


def _first_page_png(content: bytes, name: str, tmp_path: Path) -> Path:
    """Page 1 of a PDF as a PNG in the screenshots folder (as the browser tests leave theirs)."""
    source = tmp_path / f"{name}.pdf"
    source.write_bytes(content)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    prefix = SCREENSHOTS / name
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", source, prefix],
        check=True,
        timeout=60,
    )
    return prefix.with_suffix(".png")


def _ink(png: Path) -> float:
    """The share of the page's pixels that are not white."""
    from PIL import Image

    with Image.open(png) as image:
        grey = image.convert("L")
        inked = sum(count for level, count in enumerate(grey.histogram()) if level < 240)
        return inked / (grey.width * grey.height)


@pytest.mark.parametrize("provisional", [False, True], ids=["issued", "provisional"])
def test_the_pdf_renders_the_statement_on_a4(
    login: Callable[[User], Client],
    billed: Entitlement,
    january: Statement,
    viewer: User,
    tmp_path: Path,
    provisional: bool,
) -> None:
    url = (
        _url("statement_provisional_pdf", billed)
        if provisional
        else _url("statement_pdf", billed, january)
    )
    response = login(viewer).get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    name = "2026-02-01-provisional" if provisional else "2026-01-01"
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="acme-corp-design-studio-statement-{name}.pdf"'
    )
    assert response.content.startswith(b"%PDF-")
    png = _first_page_png(response.content, f"statement-{name}", tmp_path)
    assert png.exists()
    from PIL import Image

    with Image.open(png) as image:
        # A4 portrait at 80 dpi: 661 x 935 pixels.
        assert abs(image.width - 661) <= 2 and abs(image.height - 935) <= 2
    assert 0.03 < _ink(png) < 0.6  # a page of text and a chart: neither blank nor a black box


def test_the_pdf_loads_nothing_but_the_portals_static_files() -> None:
    from portal import pdf

    assert pdf.static_file("https://portal.invalid/static/css/statement.css") is not None
    assert pdf.static_file("https://portal.invalid/static/../portal/settings.py") is None
    assert pdf.static_file("https://example.com/static/css/statement.css") is None
    assert pdf.static_file("file:///etc/passwd") is None
    html = '<link rel="stylesheet" href="http://127.0.0.1:9/x.css"><img src="file:///etc/hostname">'
    assert pdf.render(f"<!doctype html><html><body>{html}<p>ok</p></body></html>").startswith(
        b"%PDF-"
    )


def test_the_entitlement_page_shows_the_utilization_of_the_period_so_far(
    login: Callable[[User], Client],
    billed: Entitlement,
    make_entitlement: Callable[..., Entitlement],
    viewer: User,
) -> None:
    """February so far: 10 seats held throughout, 11 for two hours on 3 Feb."""
    page = login(viewer).get(_url("entitlement", billed))
    assert page.status_code == 200
    assert "Utilization, Feb 2026 so far" in page.content.decode()
    sheet = page.context["so_far"]
    hours = sheet.figures["hours"]
    assert hours == 9 * 24 + 13  # 1 Feb 00:00 to 10 Feb 12:00, the current hour so far
    assert {row["seats"]: row["hours"] for row in sheet.payload["utilization"]} == {
        **{seats: hours for seats in range(1, 11)},
        11: 2,
    }
    assert not Statement.objects.filter(entitlement=billed, period_start__month=2).exists()

    later = make_entitlement(seats=5, hard_limit=6, starts_at=datetime(2026, 4, 1, tzinfo=UTC))
    not_started = login(viewer).get(_url("entitlement", later))
    assert not_started.context["so_far"] is None
    assert "so far</h2>" not in not_started.content.decode()
