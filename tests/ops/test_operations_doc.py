"""docs/operations.md, .env.example and the code name the same environment variables."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_READS = re.compile(
    r"""(?:env_(?:str|int|bool|list|networks|secret|url)|os\.environ\.get)\(\s*["']([A-Z][A-Z0-9_]+)["']"""
)
_PROCFILE = re.compile(r"\$\{([A-Z][A-Z0-9_]+)")
_EXAMPLE = re.compile(r"^#? ?([A-Z][A-Z0-9_]+)=", re.MULTILINE)
NOT_SETTINGS = {"DJANGO_SETTINGS_MODULE"}


def _read_by_code() -> set[str]:
    names: set[str] = set()
    for folder in ("portal", "licensing", "webhooks"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(_READS.findall(path.read_text()))
    names |= set(_PROCFILE.findall((ROOT / "Procfile").read_text()))
    return names - NOT_SETTINGS


def _in_example() -> set[str]:
    return set(_EXAMPLE.findall((ROOT / ".env.example").read_text()))


def test_every_variable_the_code_reads_is_in_env_example() -> None:
    assert _read_by_code() - _in_example() == set()


def test_every_variable_in_env_example_is_in_the_operations_guide() -> None:
    guide = (ROOT / "docs" / "operations.md").read_text()
    missing = {name for name in _in_example() if f"`{name}`" not in guide}
    assert missing == set()


def test_env_example_names_each_variable_once() -> None:
    names = _EXAMPLE.findall((ROOT / ".env.example").read_text())
    assert sorted({name for name in names if names.count(name) > 1}) == []
