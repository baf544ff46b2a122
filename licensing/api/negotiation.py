"""Content negotiation for the APIs, which answer JSON only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

_PLAIN = frozenset({"", "*/*", "application/json"})


class JSONFirstNegotiation(DefaultContentNegotiation):
    """A request that names no media type, or JSON alone, gets the view's first renderer at
    once: what DRF's parsing of the Accept header would choose too, for about 50 us less per
    call (bench/RUNS.md). Anything else is negotiated as DRF does (406 included)."""

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, Any]:
        accept = request.META.get("HTTP_ACCEPT", "")
        first = next(iter(renderers), None)
        if accept in _PLAIN and not format_suffix and first is not None:
            return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
