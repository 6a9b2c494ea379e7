"""Path and query parameters as langgraph-api reads them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from agentlist.api.errors import UnprocessableError


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
