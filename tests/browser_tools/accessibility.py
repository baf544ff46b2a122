"""axe-core in a Playwright page: what it checks, what we accept, and the counts.

axe (tests/browser_tools/axe/, vendored: never served to users) runs the rules tagged WCAG 2.0
and 2.1, levels A and AA, and axe's best practices. A page passes with no violation at all,
apart from the moderate or minor ones ALLOWED lists, each with the reason it is accepted;
a critical or serious violation is never allowed.

The portal's Content-Security-Policy (script-src 'self') would refuse the injected script, so
pages are opened in a context made by `new_context`, which bypasses it; that is the only
difference from a person's browser.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from pathlib import Path
from typing import Any

AXE_SCRIPT = Path(__file__).parent / "axe" / "axe.min.js"
TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice")
IMPACTS = ("critical", "serious", "moderate", "minor")
NEVER_ALLOWED = frozenset({"critical", "serious"})


@dataclasses.dataclass(frozen=True)
class Allowed:
    """A moderate or minor violation we accept: `rule` (axe's id) on pages whose name matches
    `page` (a regex), at nodes whose CSS selector matches `target` (a regex)."""

    rule: str
    page: str
    target: str
    reason: str


# The allow-list. Each entry says why the violation is accepted rather than fixed.
ALLOWED: tuple[Allowed, ...] = (
    Allowed(
        rule="skip-link-first",
        page=r"^500$",
        target=r"^html$",
        reason="The server-error page is a bare document (no layout, no database, no static"
        " files, so it renders whatever broke): a heading and a sentence, nothing to skip.",
    ),
)


@dataclasses.dataclass(frozen=True)
class Finding:
    """One node that breaks one rule, on one page (state) of one persona."""

    page: str
    rule: str
    impact: str
    target: str
    help: str
    html: str

    def __str__(self) -> str:
        return (
            f"{self.page}: {self.impact} {self.rule} at {self.target} ({self.help})\n  {self.html}"
        )

    @property
    def allowed_by(self) -> Allowed | None:
        if self.impact in NEVER_ALLOWED:
            return None
        for entry in ALLOWED:
            if (
                entry.rule == self.rule
                and re.search(entry.page, self.page)
                and re.search(entry.target, self.target)
            ):
                return entry
        return None


def new_context(browser: Any, **options: Any) -> Any:
    """A browser context whose pages accept the injected axe script despite the CSP."""
    return browser.new_context(bypass_csp=True, **options)


RUN_AXE = """async (tags) => {
    const results = await axe.run(document, {
        runOnly: {type: "tag", values: tags},
        resultTypes: ["violations"],
    });
    return results.violations.flatMap(v => v.nodes.map(n => ({
        rule: v.id,
        impact: n.impact || v.impact || "minor",
        target: n.target.map(String).join(" "),
        help: v.help,
        html: n.html.slice(0, 300),
    })));
}"""


# Checks of our own, in axe's shape:
# - aria-reference-missing: axe reports an aria-describedby or aria-labelledby that names no
#   element on the page only as "needs review" (the element might be added later); a
#   server-rendered page has no later, so here it is serious (WCAG 1.3.1: the text is lost).
# - skip-link-first: the first stop of the Tab key is a link to the page's main landmark (WCAG
#   2.4.1; axe's own rules pass a page with landmarks and headings without one).
OWN_CHECKS = """() => {
    const found = [];
    const attributes = ["aria-describedby", "aria-labelledby", "aria-details", "aria-controls",
                        "aria-errormessage", "aria-owns", "aria-flowto", "aria-activedescendant"];
    for (const attribute of attributes) {
        for (const el of document.querySelectorAll(`[${attribute}]`)) {
            const missing = el.getAttribute(attribute).split(/\\s+/)
                .filter(id => id && !document.getElementById(id));
            if (!missing.length) { continue; }
            found.push({
                rule: "aria-reference-missing",
                impact: "serious",
                target: el.id ? `#${el.id}` : el.tagName.toLowerCase(),
                help: `${attribute} names ${missing.join(", ")}, which is not on the page`,
                html: el.outerHTML.slice(0, 300),
            });
        }
    }
    const tabbable = "a[href], button, input:not([type=hidden]), select, textarea, summary,"
        + " [tabindex]";
    const first = Array.from(document.querySelectorAll(tabbable))
        .find(el => el.tabIndex >= 0 && !el.disabled);
    const target = first && first.matches("a[href^='#']")
        ? document.getElementById(first.getAttribute("href").slice(1)) : null;
    if (!target || !target.matches("main, [role=main]")) {
        found.push({
            rule: "skip-link-first",
            impact: "moderate",
            target: first ? first.tagName.toLowerCase() : "html",
            help: "The first stop of the Tab key should be a link to the main content",
            html: first ? first.outerHTML.slice(0, 300) : "",
        });
    }
    return found;
}"""


def audit(page: Any, name: str) -> list[Finding]:
    """axe's violations on the page as it is now and our own (OWN_CHECKS), each node a finding
    named `name`."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_SCRIPT))
    found = page.evaluate(RUN_AXE, list(TAGS)) + page.evaluate(OWN_CHECKS)
    return [Finding(page=name, **finding) for finding in found]


class Tally:
    """The findings of every page a test audits: the table it prints and its failures."""

    def __init__(self) -> None:
        self.pages: dict[str, list[Finding]] = {}

    def add(self, name: str, findings: list[Finding]) -> None:
        self.pages.setdefault(name, []).extend(findings)

    def failures(self) -> list[Finding]:
        return [f for found in self.pages.values() for f in found if f.allowed_by is None]

    def table(self) -> str:
        """Per page: the nodes in violation by impact (allowed ones included) and the rules."""
        lines = [
            "| page | critical | serious | moderate | minor | rules |",
            "|---|---|---|---|---|---|",
        ]
        for name, found in self.pages.items():
            impacts = Counter(f.impact for f in found)
            rules = Counter(f.rule for f in found)
            lines.append(
                f"| {name} | "
                + " | ".join(str(impacts[impact]) for impact in IMPACTS)
                + " | "
                + ", ".join(f"{rule} x{count}" for rule, count in sorted(rules.items()))
                + " |"
            )
        return "\n".join(lines)

    def report(self) -> str:
        """The table, then every finding not allowed (for the assertion's message)."""
        failures = self.failures()
        listed = "\n".join(str(f) for f in failures)
        return f"{self.table()}\n\n{len(failures)} violations not allowed:\n{listed}"
