"""Checks of client input shared by the APIs and the portal, with the messages users see."""

from __future__ import annotations

import re
from typing import Final

from django.core.exceptions import ValidationError

FINGERPRINT_MAX_LENGTH: Final = 255
LABEL_MAX_LENGTH: Final = 255
# Control characters (NUL above all, which PostgreSQL refuses in text) never belong in an id;
# a message people type may hold line breaks and tabs, never the others.
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_CHARS_BUT_LINE_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Unpaired surrogates (JSON allows "\ud800") cannot be encoded as UTF-8, so never stored.
_SURROGATES = re.compile("[\ud800-\udfff]")


def check_characters(name: str, value: str, *, line_breaks: bool = False) -> None:
    """Refuse text that cannot be stored or searched for: PostgreSQL refuses NUL in text.

    Every text input shares this check, stored (fingerprints, labels, messages: with
    `line_breaks`) or only searched for (the portal's search and filter boxes,
    `portal.team_forms.FilterTextField`).
    """
    control = _CONTROL_CHARS_BUT_LINE_BREAKS if line_breaks else _CONTROL_CHARS
    if control.search(value):
        raise ValidationError(f"{name} must not contain control characters.", code="invalid")
    if _SURROGATES.search(value):
        raise ValidationError(f"{name} must not contain unpaired surrogates.", code="invalid")


def clean_fingerprint(value: object) -> str:
    """Return the fingerprint, stripped, or raise ValidationError with a clear message."""
    if not isinstance(value, str):
        raise ValidationError("Fingerprint must be a string.", code="invalid")
    value = value.strip()
    if not value:
        raise ValidationError("Fingerprint must not be empty.", code="blank")
    if len(value) > FINGERPRINT_MAX_LENGTH:
        raise ValidationError(
            f"Fingerprint must be at most {FINGERPRINT_MAX_LENGTH} characters"
            f" (it has {len(value)}).",
            code="max_length",
        )
    check_characters("Fingerprint", value)
    return value


def clean_label(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError("Label must be a string.", code="invalid")
    value = value.strip()
    if len(value) > LABEL_MAX_LENGTH:
        raise ValidationError(
            f"Label must be at most {LABEL_MAX_LENGTH} characters (it has {len(value)}).",
            code="max_length",
        )
    check_characters("Label", value)
    return value
