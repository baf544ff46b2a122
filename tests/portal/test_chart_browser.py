"""The usage chart stays true to history (issue 15), as a person sees it in headless chromium.

An entitlement of 100/120 runs 110 seats (overdraft) for three days, is expanded to 130/150 and
then holds 125 (within). The chart must draw the lines each day was judged by, mark the change,
never paint the usage amber where it is at or below the entitled line, and keep denials off the
seats axis. The data is built in the past with time_machine, which is stopped before the live
server serves the browser.
"""

import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from licensing import services
from licensing.models import Customer, Entitlement, Product, Seat
from portal.models import User
from tests.conftest import PASSWORD
from tests.portal.test_browser import RUNS_JS, SCREENSHOTS, collect_console, launch_chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SUMMARY = "Expanded to 130/150 by am@vendor.test"
AMBER = (0xC7, 0x7C, 0x02)  # --zone-overdraft
BLUE = (0x2F, 0x6F, 0xDE)  # --chart-usage
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with launch_chromium(monkeypatch) as chromium:
        yield chromium


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture
def expanded(customer: Customer, product: Product, account_manager: User) -> Entitlement:
    """Nine days ago 100/120: 122 activations at 01:05 (100 ok, 20 in overdraft, 2 denied),
    10 released at 01:30, so 110 in use; six days ago at 12:30 expanded to 130/150; five days
    ago at 09:15 15 more, so 125 in use until now."""
    am = services.Actor.of(account_manager)
    first, change = _midnight(timezone.now()) - timedelta(days=9), _change_at()
    with time_machine.travel(first, tick=False) as clock:
        entitlement = services.entitlement_create(
            customer=customer, product=product, seats=100, hard_limit=120, actor=am
        )
        clock.move_to(first + timedelta(hours=1, minutes=5))
        statuses = [
            services.seat_activate(entitlement=entitlement, fingerprint=f"pc-{n}").status
            for n in range(122)
        ]
        assert statuses.count("denied") == 2
        clock.move_to(first + timedelta(hours=1, minutes=30))
        for seat in Seat.objects.filter(entitlement=entitlement)[:10]:
            assert services.seat_release(entitlement=entitlement, seat_id=seat.pk)
        clock.move_to(change)
        services.entitlement_update(entitlement=entitlement, seats=130, hard_limit=150, actor=am)
        clock.move_to(first + timedelta(days=4, hours=9, minutes=15))
        for n in range(15):
            services.seat_activate(entitlement=entitlement, fingerprint=f"new-{n}")
    entitlement.refresh_from_db()
    assert (entitlement.seats, entitlement.hard_limit, entitlement.seats_used) == (130, 150, 125)
    return entitlement


def _change_at() -> datetime:
    """Six days ago at 12:30 (call it outside time travel)."""
    return _midnight(timezone.now()) - timedelta(days=6) + timedelta(hours=12, minutes=30)


def _open(browser: Any, viewport: dict[str, int], user: User, url: str) -> tuple[Any, list[str]]:
    """A logged-in page at `url` and the list its console errors and warnings go to (a CSP
    violation is a console error)."""
    problems: list[str] = []
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.on("console", collect_console(problems, str(viewport["width"])))
    page.on("pageerror", lambda error: problems.append(f"{viewport['width']}: {error}"))
    page.goto(url)
    page.fill("input[name=login]", user.email)
    # Email first: an address without single sign-on goes on to the password.
    page.click("form.login button[type=submit]")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url(url)
    page.wait_for_load_state("networkidle")
    return page, problems


def _url(live_server: Any, entitlement: Entitlement, range_key: str) -> str:
    path = reverse("customer:entitlement", args=[entitlement.customer.slug, entitlement.pk])
    return f"{live_server.url}{path}?range={range_key}"


def _chart_data(page: Any) -> dict[str, Any]:
    data: dict[str, Any] = page.evaluate(
        "() => JSON.parse(document.getElementById('usage-data').textContent)"
    )
    return data


def _bucket_of(data: dict[str, Any], moment: datetime) -> int:
    """The index of the point that holds `moment`."""
    starts = [datetime.fromisoformat(p["t"]) for p in data["points"]]
    return max(i for i, start in enumerate(starts) if start <= moment)


# For each bucket, the pixels around where the usage line runs through it: the run's height at
# the bucket's middle and a little to each side (the scales place any implementation's line),
# a few pixels up and down. Read before anything hovers the chart (a tooltip draws on it).
PIXELS_JS = """() => {
    const canvas = document.getElementById("usage-chart");
    const chart = Chart.getChart(canvas);
    const data = JSON.parse(document.getElementById("usage-data").textContent);
    const image = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    const ratio = canvas.width / canvas.getBoundingClientRect().width;
    const pixel = (x, y) => {
        const k = 4 * (Math.round(y * ratio) * canvas.width + Math.round(x * ratio));
        return [image.data[k], image.data[k + 1], image.data[k + 2]];
    };
    return data.points.map((p, i) => {
        const x = chart.scales.x.getPixelForValue(i);
        const width = chart.scales.x.getPixelForValue(i + 0.5) - x;
        const y = chart.scales.y.getPixelForValue(p.peak);
        const pixels = [];
        for (const f of [-0.6, -0.3, 0, 0.3, 0.6]) {
            for (let dy = -3; dy <= 3; dy++) pixels.push(pixel(x + f * width, y + dy));
        }
        return {peak: p.peak, entitled: p.entitled, zone: p.zone, pixels: pixels};
    });
}"""


def _distance(rgb: list[int], to: tuple[int, int, int]) -> float:
    return math.dist(rgb, to)


def _check_usage_colours(page: Any) -> None:
    buckets = page.evaluate(PIXELS_JS)
    amber_below = [
        i
        for i, b in enumerate(buckets)
        if b["peak"] <= b["entitled"] and any(_distance(px, AMBER) < 60 for px in b["pixels"])
    ]
    assert amber_below == [], f"amber drawn at or below the entitled line in buckets {amber_below}"
    not_amber = [
        i
        for i, b in enumerate(buckets)
        if b["zone"] == "overdraft" and not any(_distance(px, AMBER) < 40 for px in b["pixels"])
    ]
    assert not_amber == [], f"overdraft buckets {not_amber} are not drawn amber"
    within = [b for b in buckets if b["zone"] == "within" and b["peak"] > 0]
    assert within and all(any(_distance(px, BLUE) < 40 for px in b["pixels"]) for b in within)


def _runs(page: Any) -> dict[str, Any]:
    chart: dict[str, Any] = page.evaluate(RUNS_JS)
    assert chart is not None, "no charts on the page"
    chart["seats"] = {
        label: {int(float(i)): y for i, y in runs.items()} for label, runs in chart["seats"].items()
    }
    return chart


@pytest.mark.parametrize("range_key", ["30d", "7d"])
def test_usage_is_never_amber_at_or_below_the_line_it_was_judged_by(
    browser: Any,
    live_server: Any,
    customer_admin: User,
    expanded: Entitlement,
    range_key: str,
) -> None:
    page, problems = _open(browser, DESKTOP, customer_admin, _url(live_server, expanded, range_key))
    _check_usage_colours(page)
    assert problems == []


@pytest.mark.parametrize("range_key", ["30d", "7d"])
def test_limit_lines_step_where_the_terms_changed_and_the_change_is_marked(
    browser: Any,
    live_server: Any,
    customer_admin: User,
    expanded: Entitlement,
    range_key: str,
) -> None:
    page, problems = _open(browser, DESKTOP, customer_admin, _url(live_server, expanded, range_key))
    data = _chart_data(page)
    chart = _runs(page)
    entitled, limit = chart["seats"]["Entitled seats"], chart["seats"]["Hard limit"]
    points = data["points"]
    # Every bucket's lines are the ones it was judged by, drawn as one run over the bucket.
    assert entitled == {i: p["entitled"] for i, p in enumerate(points)}
    assert limit == {i: p["hard_limit"] for i, p in enumerate(points)}
    # The server's one change (not the clock here: midnight may have passed since the data).
    assert [c["summary"] for c in data["changes"]] == [SUMMARY]
    change = datetime.fromisoformat(data["changes"][0]["t"])
    assert (change.hour, change.minute) == (12, 30)
    before = _bucket_of(data, change - timedelta(hours=12))
    after = _bucket_of(data, change + timedelta(days=1))
    assert (entitled[before], limit[before]) == (100, 120)
    assert (entitled[after], limit[after]) == (130, 150)
    assert points[before]["zone"] == "overdraft" and points[after]["zone"] == "within"

    # The marker: drawn on the canvas inside the bucket of the change, its flag labelled.
    markers = page.evaluate(
        """() => {
            const chart = Chart.getChart(document.getElementById("usage-chart"));
            return chart.$changeMarkers.map(m => ({
                x: m.x, label: m.label, summary: m.summary,
                value: chart.scales.x.getValueForPixel(m.x),
            }));
        }"""
    )
    assert [(m["label"], m["summary"]) for m in markers] == [("Expanded to 130/150", SUMMARY)]
    assert round(markers[0]["value"]) == _bucket_of(data, change)

    # Its tooltip, for a pointer on the marker, tells the whole change.
    box = page.locator("#usage-chart").bounding_box()
    page.mouse.move(box["x"] + markers[0]["x"], box["y"] + box["height"] / 2)
    tooltip = page.evaluate(
        """() => {
            const t = Chart.getChart(document.getElementById("usage-chart")).tooltip;
            return {title: t.title, body: t.body.flatMap(b => b.lines), footer: t.footer};
        }"""
    )
    assert tooltip["footer"] == ["12:30 UTC: Expanded to 130/150", "by am@vendor.test"]
    assert any(line.startswith("Entitled ") for line in tooltip["body"])

    # And in text under the chart, for keyboards and screen readers.
    changes = page.locator(".chart-changes li").all_inner_texts()
    assert len(changes) == 1
    assert changes[0].endswith(f"12:30 UTC — {SUMMARY}")
    assert change.strftime("%-d %b %Y") in changes[0]
    assert problems == []


@pytest.mark.parametrize("range_key", ["30d", "7d"])
def test_denials_have_a_panel_and_axis_of_their_own(
    browser: Any,
    live_server: Any,
    customer_admin: User,
    expanded: Entitlement,
    range_key: str,
) -> None:
    page, problems = _open(browser, DESKTOP, customer_admin, _url(live_server, expanded, range_key))
    data = _chart_data(page)
    chart = _runs(page)
    assert chart["seatsTitle"] == "Seats"
    assert sorted(chart["scales"]) == ["x", "y"]  # no second axis on the seats chart
    assert "Denials" not in chart["seats"]
    assert (chart["denials"]["label"], chart["denials"]["title"]) == ("Denials", "Denials")
    assert chart["denials"]["values"] == [p["denials"] for p in data["points"]]
    # 30 days hold the two denials of the first day; the last 7 days none.
    assert sum(chart["denials"]["values"]) == (2 if range_key == "30d" else 0)
    # The panel is directly under the seats and its buckets sit under the same ones.
    layout = page.evaluate(
        """() => {
            const seats = Chart.getChart(document.getElementById("usage-chart"));
            const denials = Chart.getChart(document.getElementById("denials-chart"));
            const a = seats.canvas.getBoundingClientRect();
            const b = denials.canvas.getBoundingClientRect();
            const n = seats.data.datasets.find(d => d.bucketPoints).data.length;
            return {
                gap: b.top - a.bottom,
                seatsX: [0, n - 1].map(i => a.left + seats.scales.x.getPixelForValue(i)),
                denialsX: [0, n - 1].map(i => b.left + denials.scales.x.getPixelForValue(i)),
            };
        }"""
    )
    assert 0 <= layout["gap"] < 20
    assert layout["seatsX"] == pytest.approx(layout["denialsX"], abs=1)
    assert problems == []


def test_the_current_bucket_is_marked_as_so_far(
    browser: Any, live_server: Any, customer_admin: User, expanded: Entitlement
) -> None:
    page, problems = _open(browser, DESKTOP, customer_admin, _url(live_server, expanded, "30d"))
    assert _chart_data(page)["points"][-1]["partial"] is True
    # Shaded: the top of the plot above the last day is not the card's white.
    shade = page.evaluate(
        """() => {
            const canvas = document.getElementById("usage-chart");
            const chart = Chart.getChart(canvas);
            const n = JSON.parse(document.getElementById("usage-data").textContent).points.length;
            const x = chart.scales.x.getPixelForValue(n - 1);
            const y = chart.chartArea.top + 5;
            const ratio = canvas.width / canvas.getBoundingClientRect().width;
            const [r, g, b, a] = canvas.getContext("2d").getImageData(
                Math.round(x * ratio), Math.round(y * ratio), 1, 1).data;
            return {x, y, alpha: a};
        }"""
    )
    assert shade["alpha"] > 0
    box = page.locator("#usage-chart").bounding_box()
    page.mouse.move(box["x"] + shade["x"], box["y"] + box["height"] / 2)
    title = page.evaluate(
        "() => Chart.getChart(document.getElementById('usage-chart')).tooltip.title"
    )
    assert len(title) == 1 and " UTC · so far, as of " in title[0]
    assert problems == []


def test_every_range_draws_a_run_per_point(
    browser: Any, live_server: Any, customer_admin: User, expanded: Entitlement
) -> None:
    page, problems = _open(browser, PHONE, customer_admin, _url(live_server, expanded, "30d"))
    for range_key in ("24h", "7d", "30d", "90d", "1y"):
        page.goto(_url(live_server, expanded, range_key))
        page.wait_for_load_state("networkidle")
        points = _chart_data(page)["points"]
        chart = _runs(page)
        assert chart["seats"]["Seats in use"] == {i: p["peak"] for i, p in enumerate(points)}
        assert chart["denials"]["points"] == len(points)
        ticks = page.evaluate(
            "() => Chart.getChart(document.getElementById('usage-chart')).scales.x.ticks.length"
        )
        assert 2 <= ticks <= 8, f"{range_key}: {ticks} time labels on a phone"
    assert problems == []


def test_an_entitlement_without_use_draws_zero_use(
    browser: Any, live_server: Any, customer_admin: User, entitlement: Entitlement
) -> None:
    page, problems = _open(browser, PHONE, customer_admin, _url(live_server, entitlement, "30d"))
    chart = _runs(page)
    assert set(chart["seats"]["Seats in use"].values()) == {0}
    assert set(chart["seats"]["Entitled seats"].values()) == {100}
    assert chart["denials"]["nonZero"] == 0
    assert page.locator(".chart-changes").count() == 0
    assert problems == []


def test_screenshots_of_the_chart_after_an_expansion(
    browser: Any,
    live_server: Any,
    customer_admin: User,
    expanded: Entitlement,
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, viewport in [("desktop", DESKTOP), ("phone", PHONE)]:
        for range_key in ("30d", "7d"):
            url = _url(live_server, expanded, range_key)
            page, problems = _open(browser, viewport, customer_admin, url)
            card = page.locator(".chart-card")
            card.scroll_into_view_if_needed()
            card.screenshot(path=str(SCREENSHOTS / f"chart-terms-{range_key}-{name}.png"))
            if range_key == "30d":
                page.screenshot(
                    path=str(SCREENSHOTS / f"entitlement-terms-{name}.png"), full_page=True
                )
            # Hovering the change shows its tooltip.
            box = page.locator("#usage-chart").bounding_box()
            x = page.evaluate(
                "() => Chart.getChart(document.getElementById('usage-chart')).$changeMarkers[0].x"
            )
            page.mouse.move(box["x"] + x, box["y"] + box["height"] * 0.45)
            card.screenshot(path=str(SCREENSHOTS / f"chart-terms-{range_key}-{name}-hover.png"))
            assert problems == []
            page.context.close()


def test_the_customers_cap_is_a_line_of_its_own_from_when_it_was_set(
    browser: Any, live_server: Any, customer_admin: User, expanded: Entitlement
) -> None:
    """Capped at 140 three days ago at 10:20 (after the expansion to 130/150): the cap line
    starts in the next hour, at 140, and nothing is drawn for it before."""
    capped_at = _midnight(timezone.now()) - timedelta(days=3) + timedelta(hours=10, minutes=20)
    with time_machine.travel(capped_at, tick=False):
        services.entitlement_set_customer_cap(
            entitlement=expanded, customer_cap=140, actor=services.Actor.of(customer_admin)
        )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page, problems = _open(browser, DESKTOP, customer_admin, _url(live_server, expanded, "7d"))

    data = _chart_data(page)
    runs = _runs(page)["seats"]
    cap = runs["Customer's cap"]
    first = _bucket_of(data, capped_at) + 1  # the hour of the change keeps the more generous
    assert {y for i, y in cap.items() if i >= first} == {140}
    assert {y for i, y in cap.items() if i < first} == {None}
    page.locator(".chart-card").screenshot(path=str(SCREENSHOTS / "chart-customer-cap-7d.png"))
    page.locator("#cap").screenshot(path=str(SCREENSHOTS / "entitlement-cap-form.png"))
    page.locator("#key").screenshot(path=str(SCREENSHOTS / "entitlement-license-key.png"))
    assert problems == []
    page.context.close()
    phone, problems = _open(browser, PHONE, customer_admin, _url(live_server, expanded, "7d"))
    phone.locator("#key").screenshot(path=str(SCREENSHOTS / "entitlement-license-key-phone.png"))
    phone.locator("#cap").screenshot(path=str(SCREENSHOTS / "entitlement-cap-form-phone.png"))
    assert problems == []


# The bands the seats chart drew for temporary raises (the raiseBands plugin keeps them), and
# the colour of the canvas (RGBA: the card shows through) inside the first band and outside
# any, at two x values the test gives and one height: between the band's label and the highest
# line, so only the band (and perhaps a grid line, the same on both sides) is there.
RAISE_BANDS_JS = """([inside, outside]) => {
    const canvas = document.getElementById("usage-chart");
    const chart = Chart.getChart(canvas);
    const area = chart.chartArea;
    const highest = Math.max(...chart.data.datasets.flatMap(d => d.data.map(p => p.y || 0)));
    const y = Math.round((area.top + 18 + chart.scales.y.getPixelForValue(highest)) / 2);
    const ratio = canvas.width / canvas.getBoundingClientRect().width;
    const row = canvas.getContext("2d").getImageData(0, Math.round(y * ratio), canvas.width, 1);
    const pixel = (x) => {
        const k = 4 * Math.round(x * ratio);
        return Array.from(row.data.slice(k, k + 4));
    };
    const x = (i) => chart.scales.x.getPixelForValue(i);
    return {
        bands: chart.$raiseBands,
        area: {left: area.left, right: area.right, top: area.top},
        fromX: x(inside.from),
        inside: pixel(x(inside.at)),
        outside: pixel(x(outside)),
        legend: chart.legend.legendItems.map(item => item.text),
    };
}"""


@pytest.fixture
def raised(expanded: Entitlement, customer_admin: User, account_manager: User) -> Entitlement:
    """`expanded` (130/150, 125 in use), capped by the customer at 140 four days ago at 10:20,
    then raised by +20 seats and +20 hard limit three days ago at 09:40 until ten days from now
    (150/170 meanwhile; the cap moved up to 150)."""
    capped_at = _midnight(timezone.now()) - timedelta(days=4) + timedelta(hours=10, minutes=20)
    raised_at = _raised_at()
    ends_at = timezone.now().replace(second=0, microsecond=0) + timedelta(days=10)
    with time_machine.travel(capped_at, tick=False) as clock:
        services.entitlement_set_customer_cap(
            entitlement=expanded, customer_cap=140, actor=services.Actor.of(customer_admin)
        )
        clock.move_to(raised_at)
        services.raise_grant(
            entitlement=expanded,
            extra_seats=20,
            extra_hard_limit=20,
            ends_at=ends_at,
            reason="quarter close",
            actor=services.Actor.of(account_manager),
        )
    expanded.refresh_from_db()
    assert (expanded.seats, expanded.hard_limit, expanded.customer_cap) == (150, 170, 150)
    return expanded


def _raised_at() -> datetime:
    """Three days ago at 09:40 (call it outside time travel): whatever the time of day, the
    band of a 7-day chart on a phone is wide enough for its label (from two days ago, it was
    not in the first hours after midnight)."""
    return _midnight(timezone.now()) - timedelta(days=3) + timedelta(hours=9, minutes=40)


@pytest.mark.parametrize(
    ("range_key", "viewport"), [("7d", DESKTOP), ("30d", DESKTOP), ("7d", PHONE)]
)
def test_a_running_raise_is_a_band_over_its_time(
    browser: Any,
    live_server: Any,
    customer_admin: User,
    raised: Entitlement,
    range_key: str,
    viewport: dict[str, int],
) -> None:
    name = "phone" if viewport is PHONE else "desktop"
    page, problems = _open(browser, viewport, customer_admin, _url(live_server, raised, range_key))
    data = _chart_data(page)
    (band,) = data["raises"]
    assert (band["status"], band["summary"]) == ("running", "+20 seats and +20 hard limit")
    # The server's start (not the clock here: midnight may have passed since the data).
    raised_at = datetime.fromisoformat(band["from"])
    assert (raised_at.hour, raised_at.minute) == (9, 40)

    # Inside the band: a bucket after the raise started; outside: a day before it.
    raise_bucket = _bucket_of(data, raised_at)
    step = 1 if data["bucket"] == "day" else 24
    drawn = page.evaluate(
        RAISE_BANDS_JS,
        [{"from": _x_of(data, raised_at), "at": raise_bucket + step}, raise_bucket - step],
    )
    (shown,) = drawn["bands"]
    assert (shown["status"], shown["summary"]) == ("running", "+20 seats and +20 hard limit")
    # From the moment it started (the x the change markers use) to the plot's right edge: it
    # runs on past now, and is clipped there.
    assert shown["left"] == pytest.approx(drawn["fromX"], abs=1)
    assert shown["right"] == pytest.approx(drawn["area"]["right"], abs=0.5)
    assert shown["label"] is not None and shown["label"].startswith("Raise +20")
    # Shaded inside (teal: red lowest), not outside.
    r, g, b, a = drawn["inside"]
    assert r < g - 40 and r < b - 40, drawn["inside"]
    assert a > drawn["outside"][3] + 20, drawn
    if viewport is DESKTOP:
        assert "Temporary raise" in drawn["legend"]

    # In words too: the list under the chart, the table's caption and the notice at the top.
    (listed,) = page.locator(".chart-raises li").all_inner_texts()
    assert listed.endswith("— +20 seats and +20 hard limit (running)")
    assert raised_at.strftime("%-d %b %Y, 09:40 UTC to ") in listed
    caption = page.locator(".usage-table caption").text_content()
    assert caption is not None and "+20 seats and +20 hard limit from" in caption
    notice = page.locator(".raise-notice").first.inner_text()
    assert notice.startswith("Temporary raise: +20 seats and +20 hard limit until ")
    assert notice.endswith(
        "— quarter close. The lines above include it; when it ends, no seat is revoked."
    )

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    suffix = f"{range_key}-{name}"
    card = page.locator(".chart-card")
    card.scroll_into_view_if_needed()
    card.screenshot(path=str(SCREENSHOTS / f"chart-raise-{suffix}.png"))
    if range_key == "7d":
        # Hovering a bucket in the band tells of the raise.
        box = page.locator("#usage-chart").bounding_box()
        x = page.evaluate(
            "(i) => Chart.getChart(document.getElementById('usage-chart'))"
            ".scales.x.getPixelForValue(i)",
            raise_bucket + step,
        )
        page.mouse.move(box["x"] + x, box["y"] + box["height"] * 0.5)
        footer = page.evaluate(
            "() => Chart.getChart(document.getElementById('usage-chart')).tooltip.footer"
        )
        assert "Temporary raise: +20 seats and +20 hard limit" in footer
        card.screenshot(path=str(SCREENSHOTS / f"chart-raise-{suffix}-hover.png"))
        # The page's head with the notice under it.
        page.evaluate("() => window.scrollTo(0, 0)")
        head = page.locator(".page-head").bounding_box()
        notice_box = page.locator("#raise").bounding_box()
        page.screenshot(
            path=str(SCREENSHOTS / f"entitlement-raise-notice-{name}.png"),
            clip={
                "x": 0,
                "y": head["y"] - 8,
                "width": viewport["width"],
                "height": notice_box["y"] + notice_box["height"] - head["y"] + 16,
            },
        )
    assert problems == []


def _x_of(data: dict[str, Any], moment: datetime) -> float:
    """Where `moment` falls on the chart's x axis: inside the bucket that holds it."""
    i = _bucket_of(data, moment)
    start = datetime.fromisoformat(data["points"][i]["t"])
    size = timedelta(days=1) if data["bucket"] == "day" else timedelta(hours=1)
    return i - 0.5 + (moment - start) / size


def test_the_account_team_sees_and_grants_raises_on_the_edit_page(
    browser: Any, live_server: Any, account_manager: User, raised: Entitlement
) -> None:
    url = f"{live_server.url}{reverse('team:entitlement_edit', args=[raised.pk])}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, viewport in [("desktop", DESKTOP), ("phone", PHONE)]:
        page, problems = _open(browser, viewport, account_manager, url)
        section = page.locator("#raises")
        rows = section.locator("tbody tr").all_inner_texts()
        assert len(rows) == 1 and "Running" in rows[0] and "quarter close" in rows[0]
        assert (
            section.get_by_role(
                "button", name="End now: the raise of +20 seats and +20 hard limit"
            ).count()
            == 1
        )
        section.scroll_into_view_if_needed()
        section.screenshot(path=str(SCREENSHOTS / f"team-raises-{name}.png"))
        assert problems == []
        page.context.close()

    # A raise that makes no sense shows its error on the field, and the page around it.
    page, problems = _open(browser, DESKTOP, account_manager, url)
    page.fill("#id_raise_extra_seats", "5")
    page.fill("#id_raise_ends_at", "2020-01-01T10:00")
    page.click("#raises form.raise-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    error = page.locator("#raises .field-error").all_inner_texts()
    assert error == ["The raise must end after it starts."]
    page.locator("#raises").screenshot(path=str(SCREENSHOTS / "team-raises-error.png"))
    assert problems == []
