"""Requests in: a mapping with wire or Python names parsed into its model, or refused with the
API's error code for the first bad field (contract §10)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from animgraph.shared.errors import ApiError
from animgraph.shared.models import WireModel, refusal_code

__all__ = ["api_error_from_validation", "parse"]


def api_error_from_validation(
    exc: ValidationError, model: type[WireModel], codes: Mapping[str, str] | None = None
) -> ApiError:
    """The API error (contract §10) naming the first bad field, its value and rule.

    ``codes`` renames fields whose error code differs from their name (a task flow's ``Name``
    is refused as ``InvalidParameterValue.ProcedureName``).
    """
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"] if not isinstance(part, int)]
    field = loc[-1] if loc else model.__name__
    field = (codes or {}).get(field, field)
    where = ".".join(loc) or model.__name__
    code = refusal_code(field, first["type"])
    if first["type"] == "missing":
        return ApiError(f"{where} is required", code)
    return ApiError(f"{where}: {first['msg']} (got {first.get('input')!r})", code)


M = TypeVar("M", bound=WireModel)


def parse(model: type[M], data: M | Mapping[str, Any], codes: Mapping[str, str] | None = None) -> M:
    """``data`` as a ``model``: wire names or Python names, refused with the API's error codes."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise api_error_from_validation(exc, model, codes) from None
