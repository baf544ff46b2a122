"""The usage chart's page with the keyboard alone (issue 24), in headless chromium.

Tab from the top of the page to its end: every control on screen is reached once, in the order
it is read (top to bottom, left to right in a row), and each shows a focus ring at least 3:1
against what is behind it (WCAG 2.1.1, 2.4.3, 2.4.7 and 1.4.11). The first stop is the skip
link, and following it lands in the page's content.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.urls import reverse

from licensing.models import Entitlement, Seat
from portal.models import User
from tests.portal.test_browser import SCREENSHOTS, launch_chromium
from tests.portal.test_chart_browser import DESKTOP, _open

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with launch_chromium(monkeypatch) as chromium:
        yield chromium


# Every control a person can reach on the page as it is drawn now (what a closed <details>
# holds is not drawn), in document order; a group of radio buttons is one stop. Each gets a
# number in `data-stop`, which the walk reads back.
CONTROLS_JS = """() => {
    const selector = "a[href], button, input:not([type=hidden]), select, textarea, summary,"
        + " [tabindex]:not([tabindex='-1'])";
    const radios = new Set();
    const controls = Array.from(document.querySelectorAll(selector)).filter(el => {
        if (el.disabled || el.tabIndex < 0 || !el.checkVisibility()) { return false; }
        if (el.type === "radio") {
            if (radios.has(el.name)) { return false; }
            radios.add(el.name);
        }
        return true;
    });
    controls.forEach((el, i) => { el.dataset.stop = String(i); });
    return controls.map(el => el.outerHTML.slice(0, 400));
}"""

# Where focus is now: which control, where on the page, its outline, and the colour behind the
# outline (the parent's backgrounds composed over the page's, as the eye sees them).
FOCUS_JS = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) { return null; }
    const rgba = (text) => {
        const m = text.match(/[\\d.]+/g) || [];
        return m.length < 3 ? [0, 0, 0, 0] : [+m[0], +m[1], +m[2], m.length > 3 ? +m[3] : 1];
    };
    const layers = [];
    for (let p = el.parentElement; p; p = p.parentElement) {
        const c = rgba(getComputedStyle(p).backgroundColor);
        if (c[3] > 0) { layers.push(c); }
        if (c[3] >= 1) { break; }
    }
    let behind = [255, 255, 255];
    for (const [r, g, b, a] of layers.reverse()) {
        behind = [r, g, b].map((c, i) => c * a + behind[i] * (1 - a));
    }
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    return {
        stop: el.dataset.stop === undefined ? null : Number(el.dataset.stop),
        html: el.outerHTML.slice(0, 160),
        top: box.top + window.scrollY,
        bottom: box.bottom + window.scrollY,
        left: box.left + window.scrollX,
        inView: box.bottom > 0 && box.top < window.innerHeight,
        outlineStyle: style.outlineStyle,
        outlineWidth: parseFloat(style.outlineWidth),
        outline: rgba(style.outlineColor).slice(0, 3),
        behind: behind,
    };
}"""


def _luminance(rgb: list[float]) -> float:
    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: list[float], b: list[float]) -> float:
    """WCAG's contrast ratio of two sRGB colours."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_is_wcag_s_ratio() -> None:
    # Worked by hand from WCAG's formula: black on white 21:1, a colour on itself 1:1, and the
    # "within" badge the issue measured: #1f8a4c on #e7f5ec, 3.89:1.
    assert contrast([0, 0, 0], [255, 255, 255]) == pytest.approx(21)
    assert contrast([10, 20, 30], [10, 20, 30]) == pytest.approx(1)
    assert contrast([0x1F, 0x8A, 0x4C], [0xE7, 0xF5, 0xEC]) == pytest.approx(3.89, abs=0.01)


def _walk(page: Any, stops: int) -> list[dict[str, Any]]:
    """Press Tab until focus leaves the page (or comes round again); where each press landed."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
    page.evaluate("() => window.scrollTo(0, 0)")
    landed: list[dict[str, Any]] = []
    for _ in range(stops + 5):  # bounded: a few more presses than there are controls
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS_JS)
        if focus is None or (landed and focus["stop"] == landed[0]["stop"]):
            break
        landed.append(focus)
    return landed


def _reading_order_breaks(landed: list[dict[str, Any]]) -> list[str]:
    """Consecutive stops where the second is read before the first: higher up the page, or on
    the same line (their heights overlap) but further left."""
    breaks = []
    for a, b in itertools.pairwise(landed):
        same_line = b["top"] < a["bottom"] and a["top"] < b["bottom"]
        if (same_line and b["left"] < a["left"]) or (not same_line and b["top"] < a["top"]):
            breaks.append(f"{a['html']}\n  then {b['html']}")
    return breaks


def test_every_control_of_the_chart_page_is_reached_in_reading_order_with_a_visible_ring(
    browser: Any,
    live_server: Any,
    customer_admin: User,
    entitlement: Entitlement,
    make_history: Callable[..., Any],
    make_seats: Callable[..., list[Seat]],
    make_denials: Callable[..., Any],
) -> None:
    make_history(entitlement, hours=24 * 30)
    make_seats(entitlement, 3)
    make_denials(entitlement, 2)
    path = reverse("customer:entitlement", args=[entitlement.customer.slug, entitlement.pk])
    page, problems = _open(browser, DESKTOP, customer_admin, f"{live_server.url}{path}")

    controls = page.evaluate(CONTROLS_JS)
    landed = _walk(page, len(controls))

    # Every control once, and nothing else (nothing hidden takes focus).
    assert [focus["stop"] for focus in landed] == list(range(len(controls))), "\n".join(
        f"{focus['stop']}: {focus['html']}" for focus in landed
    )
    # The controls of the page, the chart's among them.
    reached = "\n".join(controls)
    for control in (
        'class="skip-link"',
        'href="?range=7d#usage-title"',
        "Request more seats",
        "Show as a table",
        "usage.csv",
        'aria-label="Copy the license key"',
        'name="customer_cap"',
        'aria-label="Release the seat held by host-0000"',
    ):
        assert control in reached, control
    assert _reading_order_breaks(landed) == []

    # A ring on every stop, on screen, at least 3:1 against what is behind it.
    faint = [
        f"{focus['html']}: {focus['outlineStyle']} {focus['outlineWidth']}px"
        f" {focus['outline']} on {focus['behind']}"
        for focus in landed
        if focus["outlineStyle"] == "none"
        or focus["outlineWidth"] < 2
        or contrast(focus["outline"], focus["behind"]) < 3
        or not focus["inView"]
    ]
    assert faint == []

    # The skip link comes first, shows when focused, and leads into the content.
    assert 'class="skip-link"' in landed[0]["html"] and landed[0]["inView"]
    page.evaluate("() => { document.activeElement.blur(); window.scrollTo(0, 0); }")
    page.keyboard.press("Tab")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "keyboard-skip-link.png"), clip=_top(page))
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    first_in_main = page.evaluate("() => document.activeElement.closest('main') !== null")
    assert first_in_main

    # How the ring looks: on a range button and on the table's summary.
    for name, selector in (
        ("keyboard-focus-range", 'a[href="?range=7d#usage-title"]'),
        ("keyboard-focus-table", ".usage-table summary"),
        ("keyboard-focus-cap", "#id_customer_cap"),
    ):
        page.focus(selector)
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")  # from the keyboard, so :focus-visible applies
        box = page.locator(selector).bounding_box()
        assert box is not None
        page.screenshot(
            path=str(SCREENSHOTS / f"{name}.png"),
            clip={
                "x": max(box["x"] - 80, 0),
                "y": max(box["y"] - 40, 0),
                "width": box["width"] + 160,
                "height": box["height"] + 80,
            },
        )
    assert problems == []


def _top(page: Any) -> dict[str, float]:
    width = page.viewport_size["width"]
    return {"x": 0, "y": 0, "width": width, "height": 120}
