"""The OpenAPI document says what the API answers beyond FastAPI's guess from the routes:

* every error is ``{"detail": "..."}`` (errors.py), and any operation may answer a 4xx (401
  without a token, 404 for what is not there, 409, 413, 422, 429). FastAPI's own document
  names only a 422 of its ``HTTPValidationError`` shape (``detail`` a list), never sent here;
* the operations at ``…/stream`` answer with Server-Sent Events."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA = "Error"
_ERROR = {
    "title": ERROR_SCHEMA,
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "string", "title": "Detail"}},
}
_FASTAPI_ERRORS = ("HTTPValidationError", "ValidationError")
# Each event of the stream (what schemathesis checks them against, one by one).
_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "description": "metadata, values, messages/partial, ..."},
        "data": {"type": "string", "description": "JSON"},
        "id": {"type": "string", "description": "to resume from, as Last-Event-ID"},
    },
}
_EVENTS = {"text/event-stream": {"schema": _EVENT}}
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def describe_errors(app: FastAPI) -> None:
    """Serve ``app``'s document with the error shape this API sends (built once, as FastAPI
    builds its own)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = with_error_shape(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def with_error_shape(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with each operation's 4xx answers as ``Error``, and its streams'."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_ERRORS:
        schemas.pop(name, None)
    schemas[ERROR_SCHEMA] = _ERROR
    error = {
        "description": "The request was refused",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/" + ERROR_SCHEMA}}
        },
    }
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses["4XX"] = error
            if path.endswith("/stream") and "200" in responses:
                responses["200"]["content"] = _EVENTS
    return document
