"""Test databases for scripts/mutation.

mutmut runs each mutant's tests in a forked pytest, `MUTATION_DB_SLOTS` at a time. Each of
those takes the first free slot (an exclusive lock on a file, held until the fork exits) and
uses that slot's own test database, kept between mutants (`--reuse-db`): a mutant then costs
its tests, not a migration, and two forks never share a database. scripts/mutation drops the
slots' databases before a run, so they are always built by the current migrations.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings


@contextmanager
def claimed(slots: int, lock_dir: Path) -> Iterator[int]:
    """Hold the first free slot of `slots`, with the test databases pointed at its own, until
    the block ends. mutmut forks its runs from a process that ran tests itself: the lock and
    the names are given back at the end, so no fork inherits them."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    for slot in range(slots):
        with (lock_dir / f"slot-{slot}.lock").open("wb") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            tests = [db.setdefault("TEST", {}) for db in settings.DATABASES.values()]
            names = [test.get("NAME") for test in tests]
            for test, db in zip(tests, settings.DATABASES.values(), strict=True):
                test["NAME"] = f"{test.get('NAME') or 'test_' + db['NAME']}_mut{slot}"
            try:
                yield slot
            finally:
                for test, name in zip(tests, names, strict=True):
                    test["NAME"] = name
                fcntl.flock(handle, fcntl.LOCK_UN)
            return
    raise RuntimeError(f"all {slots} mutation test databases are in use ({lock_dir})")


def slots_from_environment() -> int:
    """How many slots scripts/mutation asked for; 0 outside it (no SQLite file is renamed)."""
    if "sqlite" in settings.DATABASES["default"]["ENGINE"]:
        return 0
    return int(os.environ.get("MUTATION_DB_SLOTS") or 0)
