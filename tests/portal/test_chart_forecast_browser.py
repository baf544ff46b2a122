"""The forecast on the usage chart (issue 19), as a person sees it in headless chromium.

An entitlement of 100/120 has ten weeks of use that grows on weekdays (quiet weekends) to about
92 seats today. Daily charts must run the axis on past today, draw the forecast's expected
peak as a dashed run per day over its shaded range, carry today's lines across, and ring the
day it is expected to reach each line it reaches within the days drawn; hovering a day ahead
tells its forecast. The data is built with time_machine, stopped before the browser loads.
"""

import random
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from licensing import selectors
from licensing.models import Customer, Entitlement, Product, UsageBucket
from portal.models import User
from tests.portal.test_browser import RUNS_JS, SCREENSHOTS, launch_chromium
from tests.portal.test_chart_browser import DESKTOP, PHONE, _chart_data, _open, _runs, _url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with launch_chromium(monkeypatch) as chromium:
        yield chromium


@pytest.fixture
def growing(customer: Customer, product: Product) -> Entitlement:
    """Created 70 days ago; every day a busy hour at 14:00 UTC whose peak grows by 0.6 seats
    a day to 92 today on weekdays (a little noise), a quarter of it at weekends; nobody holds
    a seat at night."""
    from licensing import services

    today = timezone.now().date()
    with time_machine.travel(timezone.now() - timedelta(days=70), tick=False):
        entitlement = services.entitlement_create(
            customer=customer, product=product, seats=100, hard_limit=120
        )
    rng = random.Random(19)
    rows = []
    for n in range(70):
        day = today - timedelta(days=n)
        level = 92 - 0.6 * n + rng.gauss(0, 1.5)
        peak = round(level * (0.25 if day.weekday() >= 5 else 1))
        rows.append(
            UsageBucket(
                entitlement=entitlement,
                hour=datetime.combine(day, time(14), UTC),
                peak_used=peak,
                closing_used=0,
                activations=peak,
                releases=peak,
            )
        )
    UsageBucket.objects.bulk_create(rows)
    return entitlement


# What the seats chart drew for the forecast: the plugin's record, the x axis, and the colour
# of the canvas inside the band (between the expected run and the band's top, at the middle
# of a projected weekday) and just above the band there.
FORECAST_JS = """() => {
    const canvas = document.getElementById("usage-chart");
    const chart = Chart.getChart(canvas);
    const data = JSON.parse(document.getElementById("usage-data").textContent);
    const n = data.points.length;
    const days = data.forecast.days;
    const k = days.findIndex((d, i) => i > 2 && new Date(d.t).getUTCDay() === 3);  // a Wednesday
    const d = days[k];
    const x = chart.scales.x.getPixelForValue(n + k);
    const y = (v) => chart.scales.y.getPixelForValue(v);
    const ratio = canvas.width / canvas.getBoundingClientRect().width;
    const image = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    const pixel = (px, py) => {
        const at = 4 * (Math.round(py * ratio) * canvas.width + Math.round(px * ratio));
        return Array.from(image.data.slice(at, at + 4));
    };
    return {
        drawn: chart.$forecast,
        max: chart.scales.x.max,
        n: n,
        inside: pixel(x, (y(d.expected) + y(d.high)) / 2 - 2),
        above: pixel(x, y(d.high) - 12),
        insideGap: y(d.expected) - y(d.high),
        y100: y(100),
        legend: chart.legend.legendItems.map(item => item.text),
    };
}"""


@pytest.mark.parametrize("range_key", ["30d", "90d"])
def test_daily_charts_draw_the_forecast_after_today(
    browser: Any, live_server: Any, customer_admin: User, growing: Entitlement, range_key: str
) -> None:
    projection = selectors.usage_forecast(growing)
    assert projection.entitled is not None and projection.entitled.expected is not None
    page, problems = _open(browser, DESKTOP, customer_admin, _url(live_server, growing, range_key))
    data = _chart_data(page)
    n, days = len(data["points"]), data["forecast"]["days"]
    assert days and len(days) <= (30 if range_key == "30d" else 90)
    assert days[0]["t"] == (projection.today + timedelta(days=1)).isoformat() + "T00:00:00+00:00"

    drawn = page.evaluate(FORECAST_JS)
    # The axis runs on over the forecast's days.
    assert drawn["max"] == n + len(days) - 0.5
    assert drawn["drawn"]["days"] == len(days)
    # The expected peak: one run per day ahead, as the server projected it.
    runs = _runs(page)["seats"]
    assert runs["Forecast"] == {n + k: day["expected"] for k, day in enumerate(days)}
    # Today's lines carry on across the forecast.
    assert {runs["Entitled seats"][i] for i in range(n, n + len(days))} == {100}
    assert {runs["Hard limit"][i] for i in range(n, n + len(days))} == {120}
    # The points themselves are drawn as before.
    assert runs["Seats in use"] == {i: p["peak"] for i, p in enumerate(data["points"])}
    # The range is shaded (translucent blue), and nothing is painted just above it.
    assert drawn["insideGap"] > 4
    r, _, b, a = drawn["inside"]
    assert a > 20 and b > r + 30, drawn["inside"]
    assert drawn["above"][3] < drawn["inside"][3], drawn
    # A ring on the entitled line the day it is expected to be reached, labelled with it.
    expected = projection.entitled.expected
    (ring,) = [c for c in drawn["drawn"]["crossings"] if c["seats"] == 100]
    assert ring["label"] == f"~{expected.day} {expected.strftime('%b')}"
    assert ring["y"] == pytest.approx(drawn["y100"], abs=0.5)
    assert "Forecast" in drawn["legend"] and "Forecast peak" not in drawn["legend"]

    # Hovering a day ahead tells its forecast.
    box = page.locator("#usage-chart").bounding_box()
    x = page.evaluate(
        "(i) => Chart.getChart(document.getElementById('usage-chart')).scales.x"
        ".getPixelForValue(i)",
        n + 3,
    )
    page.mouse.move(box["x"] + x, box["y"] + box["height"] / 2)
    tooltip = page.evaluate(
        """() => {
            const t = Chart.getChart(document.getElementById("usage-chart")).tooltip;
            return {title: t.title, body: t.body.flatMap(b => b.lines)};
        }"""
    )
    assert tooltip["title"][0].endswith(" UTC · forecast")
    assert tooltip["body"][0] == f"About {round(days[3]['expected'])} seats in use at the peak"
    assert tooltip["body"][1].startswith("Likely between ")

    # In words, under the capacity note, and in the legend under the chart.
    note = page.locator("#forecast-note").inner_text()
    assert note == projection.note()
    assert note.startswith("At this rate use reaches the entitled 100 seats around ")
    legend = page.locator(".chart-legend").inner_text()
    assert "the dashed blue line is the forecast's daily peak" in legend
    assert problems == []

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    card = page.locator(".chart-card")
    card.scroll_into_view_if_needed()
    card.screenshot(path=str(SCREENSHOTS / f"chart-forecast-{range_key}-desktop.png"))
    box = page.locator("#usage-chart").bounding_box()  # scrolled: where it is now
    page.mouse.move(box["x"] + x, box["y"] + box["height"] / 2)
    card.screenshot(path=str(SCREENSHOTS / f"chart-forecast-{range_key}-desktop-hover.png"))
    if range_key == "30d":
        notes = page.locator("#capacity-note")
        notes.scroll_into_view_if_needed()
        top = notes.bounding_box()
        bottom = page.locator("#forecast-note").bounding_box()
        page.screenshot(
            path=str(SCREENSHOTS / "entitlement-forecast-note.png"),
            clip={
                "x": top["x"] - 8,
                "y": top["y"] - 8,
                "width": top["width"] + 16,
                "height": bottom["y"] + bottom["height"] - top["y"] + 16,
            },
        )


def test_the_forecast_on_a_phone(
    browser: Any, live_server: Any, customer_admin: User, growing: Entitlement
) -> None:
    page, problems = _open(browser, PHONE, customer_admin, _url(live_server, growing, "90d"))
    chart = page.evaluate(RUNS_JS)
    assert chart is not None and "Forecast" in chart["seats"]
    ticks = page.evaluate(
        "() => Chart.getChart(document.getElementById('usage-chart')).scales.x.ticks.length"
    )
    assert 2 <= ticks <= 8
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    card = page.locator(".chart-card")
    card.scroll_into_view_if_needed()
    card.screenshot(path=str(SCREENSHOTS / "chart-forecast-90d-phone.png"))
    assert problems == []


def test_hourly_charts_draw_no_forecast(
    browser: Any, live_server: Any, customer_admin: User, growing: Entitlement
) -> None:
    page, problems = _open(browser, DESKTOP, customer_admin, _url(live_server, growing, "7d"))
    data = _chart_data(page)
    assert data["forecast"] is None
    assert (
        page.evaluate("() => Chart.getChart(document.getElementById('usage-chart')).scales.x.max")
        == len(data["points"]) - 0.5
    )
    assert "Forecast" not in _runs(page)["seats"]
    assert page.locator("#forecast-note").inner_text().startswith("At this rate use reaches")
    assert problems == []
