"""Read `mutmut results --all true`; print the score per module; fail on a mutant that was not
killed unless scripts/mutation_allowed.txt lists it (with why), and on a stale entry there.

    .venv/bin/python scripts/mutation_check.py RESULTS ALLOWED

A timed-out mutant counts as killed (the tests stopped it: an endless loop). Standard library
only.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

LINE = re.compile(r"^\s*(?P<name>[\w.ǁ]+__mutmut_\d+): (?P<status>.+?)\s*$")
KILLED = {"killed", "timeout"}


def read_results(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = LINE.match(line)
        if match:
            found[match["name"]] = match["status"]
    return found


def read_allowed(path: Path) -> dict[str, str]:
    allowed = {}
    for line in path.read_text().splitlines():
        name, _, why = line.partition("#")
        if name.strip():
            allowed[name.strip()] = why.strip()
    return allowed


def module(name: str) -> str:
    return name.rsplit(".", 1)[0]


def main(results_path: str, allowed_path: str) -> int:
    results = read_results(Path(results_path))
    allowed = read_allowed(Path(allowed_path))
    if not results:
        print(f"no mutants in {results_path}: did mutmut run?")
        return 1
    total, killed = Counter[str](), Counter[str]()
    for name, status in results.items():
        total[module(name)] += 1
        killed[module(name)] += status in KILLED
    print(f"{'module':<22} {'killed':>7} {'total':>6} {'score':>7}")
    for name in sorted(total):
        print(f"{name:<22} {killed[name]:>7} {total[name]:>6} {killed[name] / total[name]:>7.1%}")
    print(f"{'all':<22} {sum(killed.values()):>7} {sum(total.values()):>6}")
    alive = {name: status for name, status in results.items() if status not in KILLED}
    unexplained = sorted(set(alive) - set(allowed))
    stale = sorted(set(allowed) - set(alive))
    print(f"\nnot killed: {len(alive)}, allowed as equivalent: {len(set(alive) & set(allowed))}")
    for name in unexplained:
        print(f"NOT KILLED ({alive[name]}): {name}   (see: .venv/bin/mutmut show {name})")
    for name in stale:
        print(f"STALE ALLOW-LIST ENTRY (now killed or gone): {name}")
    return 1 if unexplained or stale else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
