"""Path and query parameters as langgraph-api reads them."""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

import orjson
from pydantic import BaseModel, ValidationError

from agentlist.api.errors import UnprocessableError

Model = TypeVar("Model", bound=BaseModel)


def parse_uuid(value: str, what: str) -> UUID:
    """A path id; a malformed one is a 422 before any query runs."""
    try:
        return UUID(value)
    except ValueError:
        raise UnprocessableError(f"Invalid {what} ID: must be a UUID") from None


def truthy(value: str | None, default: bool = False) -> bool:
    """Booleans as the SDKs send them: ``true``/``false`` (Python), ``1``/``0`` (JS)."""
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def pagination_headers(total: int, offset: int, returned: int) -> dict[str, str]:
    headers = {"X-Pagination-Total": str(total)}
    if offset + returned < total:
        headers["X-Pagination-Next"] = str(offset + returned)
    return headers


def select_fields(item: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k in select} if select else item


def json_object(value: str | None, what: str) -> dict[str, Any] | None:
    """A filter passed in a query string as JSON (``?metadata={"k": "v"}``)."""
    if value is None or value == "":
        return None
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise UnprocessableError(f"{what} must be a JSON object") from None
    if not isinstance(parsed, dict):
        raise UnprocessableError(f"{what} must be a JSON object")
    return parsed


def model_of_query(model: type[Model], fields: dict[str, Any]) -> Model:
    """A search body made of query parameters, refused as the body would be: a 422."""
    try:
        return model.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise UnprocessableError(problems) from None
