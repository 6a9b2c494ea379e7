"""``langgraph.json``'s ``"auth": {"path": "./auth.py:auth"}``: a langgraph_sdk ``Auth`` object
whose handlers run as langgraph-api runs them.

* **Authentication.** ``@auth.authenticate`` runs once per request outside the open routes. Its
  parameters are filled by name (``request``, ``body``, ``path``, ``method``, ``path_params``,
  ``query_params``, ``headers`` as ``dict[bytes, bytes]``, ``authorization``, ``scope``); a name
  outside these is refused when the server starts, not on the first request.
* **Authorization.** Each operation asks the most specific handler of its resource and action:
  ``(resource, action)``, then ``(resource, "*")``, then ``("*", action)``, then the global
  ``@auth.on``. ``None``/``True`` allows, ``False`` is 403, a dict is a metadata filter
  (:mod:`agentlist.api.auth.filters`). A handler may change ``value`` in place: the operation
  then uses what it wrote (an owner stamped on create, a store namespace rewritten).
* **Errors.** An ``Auth.exceptions.HTTPException`` keeps its status, detail and headers; any
  other exception, and any return value not listed above, is 403. The server fails closed: a
  handler that breaks never lets a request through.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from langgraph_sdk import Auth
from langgraph_sdk.auth.exceptions import HTTPException
from langgraph_sdk.auth.types import AuthContext
from starlette.requests import Request

from agentlist.api.auth import AuthConfigError, filters
from agentlist.api.auth.user import ANONYMOUS, User, to_user
from agentlist.api.errors import ApiError, ForbiddenError
from agentlist.core.targets import TargetError, load_target

logger = logging.getLogger(__name__)

Resource = Literal["threads", "assistants", "crons", "store"]
Action = Literal[
    "create", "read", "update", "delete", "search", "create_run", "put", "get", "list_namespaces"
]
Handler = Callable[..., Awaitable[Any]]

ANY: Final = "*"


class HandlerRejectionError(ApiError):
    """An ``Auth.exceptions.HTTPException`` raised by a handler, passed on as it was."""

    def __init__(self, exc: HTTPException) -> None:
        super().__init__(exc.detail or "Forbidden", headers=dict(exc.headers or {}) or None)
        self.status_code = exc.status_code


async def _headers(request: Request) -> dict[bytes, bytes]:
    return dict(request.scope["headers"])


async def _body(request: Request) -> bytes:
    return await request.body()


INJECTED: Final[dict[str, Callable[[Request], Awaitable[Any]]]] = {
    "request": lambda request: _same(request),
    "body": _body,
    "path": lambda request: _same(request.url.path),
    "method": lambda request: _same(request.method),
    "path_params": lambda request: _same(dict(request.path_params)),
    "query_params": lambda request: _same(dict(request.query_params)),
    "headers": _headers,
    "authorization": lambda request: _same(request.headers.get("authorization")),
    "scope": lambda request: _same(request.scope),
}
"""What ``@auth.authenticate`` may ask for, by parameter name."""


async def _same(value: Any) -> Any:
    return value


@dataclass
class CustomAuth:
    auth: Auth
    parameters: tuple[str, ...]
    _handlers: dict[tuple[str, str], Handler | None] = field(default_factory=dict)

    @classmethod
    def load(cls, spec: str, folder: Path) -> CustomAuth:
        try:
            auth = load_target(spec, folder, "auth.path")
        except TargetError as exc:
            raise AuthConfigError(str(exc)) from exc
        if not isinstance(auth, Auth):
            raise AuthConfigError(f"auth.path {spec!r} is a {type(auth).__name__}, not an Auth")
        return cls(auth, _parameters(auth))

    async def authenticate(self, request: Request) -> User:
        handler: Callable[..., Any] | None = self.auth._authenticate_handler
        if handler is None:
            return ANONYMOUS
        kwargs = {name: await INJECTED[name](request) for name in self.parameters}
        try:
            result = handler(**kwargs)
            if inspect.isawaitable(result):
                result = await result
        except HTTPException as exc:
            raise HandlerRejectionError(exc) from None
        except Exception as exc:
            # Fail closed, and keep the handler's message out of the response: it may hold
            # what the caller sent.
            logger.warning("auth: @auth.authenticate raised %s", type(exc).__name__)
            raise ForbiddenError("Forbidden") from None
        return to_user(result)

    async def authorize(
        self, user: User, resource: Resource, action: Action, value: dict[str, Any]
    ) -> filters.Filter | None:
        """The filter the caller's view of ``resource`` is narrowed to (None: all of it)."""
        handler = self._handler_for(resource, action)
        if handler is None:
            return None
        context = AuthContext(
            permissions=list(user.permissions), user=user, resource=resource, action=action
        )
        try:
            result = await handler(ctx=context, value=value)
        except HTTPException as exc:
            raise HandlerRejectionError(exc) from None
        except Exception as exc:
            failure = type(exc).__name__
            logger.warning("auth: the %s.%s handler raised %s", resource, action, failure)
            raise ForbiddenError("Forbidden") from None
        return _decision(result, resource, action)

    def _handler_for(self, resource: str, action: str) -> Handler | None:
        key = (resource, action)
        if key not in self._handlers:
            self._handlers[key] = self._most_specific(resource, action)
        return self._handlers[key]

    def _most_specific(self, resource: str, action: str) -> Handler | None:
        for candidate in ((resource, action), (resource, ANY), (ANY, action)):
            registered = self.auth._handlers.get(candidate)
            if registered:
                return registered[0]
        return self.auth._global_handlers[0] if self.auth._global_handlers else None


def _decision(result: object, resource: str, action: str) -> filters.Filter | None:
    if result is None or result is True:
        return None
    if result is False:
        raise ForbiddenError("Forbidden")
    try:
        return filters.parse(result)
    except filters.InvalidFilterError as exc:
        logger.error("auth: the %s.%s handler returned a bad filter: %s", resource, action, exc)
        raise ForbiddenError("Forbidden") from None


def _parameters(auth: Auth) -> tuple[str, ...]:
    handler = auth._authenticate_handler
    if handler is None:
        return ()
    names = tuple(inspect.signature(handler).parameters)
    unknown = [name for name in names if name not in INJECTED]
    if unknown:
        raise AuthConfigError(
            f"@auth.authenticate asks for {unknown}; it may take {sorted(INJECTED)}"
        )
    return names


def search_value(
    metadata: dict[str, Any] | None, *, limit: int | None, offset: int | None, **fields: Any
) -> dict[str, Any]:
    """What a ``search`` handler sees: the request's own filters, ``metadata`` a copy the
    handler may narrow (the search then uses what it left)."""
    return {"metadata": dict(metadata or {}), "limit": limit, "offset": offset, **fields}
