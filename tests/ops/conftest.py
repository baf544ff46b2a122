"""Operations fixtures: JSON log capture."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from portal.logging import JsonFormatter

JsonLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def json_log() -> Iterator[Callable[[str], JsonLines]]:
    """`json_log("portal.access")` routes that logger through JsonFormatter into a buffer and
    returns a function giving the lines written so far, parsed."""
    attached: list[tuple[logging.Logger, logging.Handler, int]] = []

    def capture(name: str) -> JsonLines:
        logger = logging.getLogger(name)
        buffer = io.StringIO()
        handler = logging.StreamHandler(buffer)
        handler.setFormatter(JsonFormatter())
        attached.append((logger, handler, logger.level))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        return lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]

    yield capture
    for logger, handler, level in attached:
        logger.removeHandler(handler)
        logger.setLevel(level)
