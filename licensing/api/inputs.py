"""Reading a request's input through an input serializer, for every API view (the licensing
vendor API and the webhooks API). Invalid input raises DRF's ValidationError, which the
exception handler answers as a 400 with the fields' errors."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request


def query(serializer: type[Any], request: Request) -> dict[str, Any]:
    """The query string, validated by `serializer`."""
    # A plain dict, not the QueryDict: DRF reads `?type=` in a QueryDict as "not given", but
    # an empty filter value is a mistake to report.
    params = serializer(data=request.query_params.dict())
    params.is_valid(raise_exception=True)
    return dict(params.validated_data)


def body(serializer: type[Any], request: Request, **kwargs: Any) -> dict[str, Any]:
    """The request body, validated by `serializer` (built with `kwargs`)."""
    data = serializer(data=request.data, **kwargs)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)
