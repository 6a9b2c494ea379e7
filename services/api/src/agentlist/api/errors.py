"""Every error a client sees has langgraph-api's shape: ``{"detail": "..."}``."""

from __future__ import annotations

import logging

import asyncpg
import orjson
import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with the HTTP status a client should receive."""

    status_code = 400

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers


class BadRequestError(ApiError):
    status_code = 400


class UnauthorizedError(ApiError):
    status_code = 401


class ForbiddenError(ApiError):
    status_code = 403


class NotFoundError(ApiError):
    status_code = 404


class ConflictError(ApiError):
    status_code = 409


class GoneError(ApiError):
    status_code = 410


class UnprocessableError(ApiError):
    status_code = 422


class ServiceUnavailableError(ApiError):
    status_code = 503


DEPENDENCY_DOWN: tuple[type[Exception], ...] = (
    ConnectionError,  # refused or reset while (re)connecting to Postgres
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    RedisConnectionError,
    RedisTimeoutError,
)
"""A server the API depends on is unreachable (restarting): the request may be retried."""


def lost_dependency(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was raised while handling, a lost connection to a server: a
    transaction whose connection died fails on exit with an ``InterfaceError``."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, (*DEPENDENCY_DOWN, asyncpg.ConnectionDoesNotExistError)):
            return True
        if isinstance(seen, asyncpg.InternalClientError) and "another operation" in str(seen):
            # A pooled connection whose server vanished mid-operation (asyncpg leaves it
            # stuck; the pool's reset then fails and replaces it).
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _data_error_detail(exc: asyncpg.DataError) -> str:
    if isinstance(
        exc, (asyncpg.UntranslatableCharacterError, asyncpg.CharacterNotInRepertoireError)
    ):
        return "Text cannot contain a NUL character (\\u0000)"
    if isinstance(exc, asyncpg.NumericValueOutOfRangeError):
        return "A number is out of range"
    return "A value is out of range or of the wrong type"


def _store_data_error_detail(exc: psycopg.DataError) -> str:
    """The store's words for what LangGraph's Postgres store (psycopg) refused."""
    if isinstance(exc, psycopg.errors.UntranslatableCharacter) or "NUL" in str(exc):
        return "Text cannot contain a NUL character (\\u0000)"
    if isinstance(exc, psycopg.errors.NumericValueOutOfRange):
        return "A number is out of range"
    return "A value is out of range or of the wrong type"


async def _on_store_data_error(request: Request, exc: Exception) -> JSONResponse:
    # As for asyncpg's, for the store, which is LangGraph's and speaks psycopg: psycopg refuses
    # a NUL in text itself, Postgres a NUL escape in JSON or a number out of range.
    logger.info("%s %s: refused value: %s", request.method, request.url.path, exc)
    assert isinstance(exc, psycopg.DataError)
    return JSONResponse({"detail": _store_data_error_detail(exc)}, 422)


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{location}: {error.get('msg')}" if location else str(error.get("msg")))
    return "; ".join(parts) or "Invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def on_api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_detail(exc)}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)

    @app.exception_handler(asyncpg.DataError)
    async def on_data_error(request: Request, exc: asyncpg.DataError) -> JSONResponse:
        # Values Postgres cannot store (a NUL character in text or JSON, a number out of
        # range) are the client's to fix; nothing was written. The database's own words
        # (query arguments, types) are for the log, not the client.
        logger.info("%s %s: refused value: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": _data_error_detail(exc)}, 422)

    app.add_exception_handler(psycopg.DataError, _on_store_data_error)

    @app.exception_handler(orjson.JSONEncodeError)
    async def on_unencodable(_request: Request, _exc: orjson.JSONEncodeError) -> JSONResponse:
        # A value nested deeper than JSON encoding allows (orjson's limit is 254 levels).
        return JSONResponse({"detail": "A value is nested too deeply to be stored"}, 422)

    async def on_dependency_down(request: Request, exc: Exception) -> JSONResponse:
        logger.warning("%s %s: %r", request.method, request.url.path, exc)
        return JSONResponse(
            {"detail": "A server the API depends on is unavailable; retry shortly"},
            503,
            headers={"Retry-After": "1"},
        )

    for kind in DEPENDENCY_DOWN:
        app.add_exception_handler(kind, on_dependency_down)

    @app.exception_handler(asyncpg.InterfaceError)
    @app.exception_handler(asyncpg.InternalClientError)
    async def on_interface_error(request: Request, exc: Exception) -> JSONResponse:
        if lost_dependency(exc):
            return await on_dependency_down(request, exc)
        return await on_unexpected(request, exc)

    @app.exception_handler(RecursionError)
    async def on_too_deep(_request: Request, _exc: RecursionError) -> JSONResponse:
        return JSONResponse({"detail": "Request body is nested too deeply"}, 422)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "An internal error occurred"}, 500)
