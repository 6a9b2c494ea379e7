"""Who is calling: the mode a server authenticates in, and the caller of each request.

The first mode configured applies:

* **custom**: ``langgraph.json`` names an ``Auth`` object (:mod:`agentlist.api.auth.custom`);
  its ``@auth.authenticate`` decides who calls, and its ``@auth.on`` handlers what they reach.
  The caller's tenant is the ``tenant`` field the authenticator returned, else the default
  tenant: isolation between users of one tenant is the handlers' filters, as in langgraph-api.
* **builtin** (``AUTH_ENABLED=true``): a JWT as ``Authorization: Bearer``
  (:mod:`agentlist.api.auth.tokens`; identity from ``sub``, tenant and permissions from
  configured claims) or an API key as ``x-api-key`` (:mod:`agentlist.api.auth.keys`).
* **gateway** (``AGENTLIST_API_GATEWAY_SECRET``): a gateway in front of the API has
  authenticated the caller; it proves it with ``X-Gateway-Secret`` and names the tenant in
  ``X-Tenant-Id``. A request without the secret is refused.
* **open**: no authentication, for a server only its own machine reaches (the API refuses to
  bind another address open unless told to). Its one caller is the default tenant's operator.

In every mode the tenant comes from what was verified, never from what a client claims.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

import asyncpg
from starlette.requests import Request

from agentlist.api.auth import AuthConfigError, audit, filters
from agentlist.api.auth.custom import Action, CustomAuth, Resource
from agentlist.api.auth.keys import InvalidKeyError, KeyChecker
from agentlist.api.auth.tokens import InvalidTokenError, TokenVerifier
from agentlist.api.auth.user import ANONYMOUS, User
from agentlist.api.errors import (
    ApiError,
    ForbiddenError,
    UnauthorizedError,
    UnprocessableError,
)
from agentlist.api.settings import ApiSettings
from agentlist.contracts.ids import SYSTEM_TENANT
from agentlist.core.langgraph_json import ServerConfig

logger = logging.getLogger(__name__)

Mode = Literal["custom", "builtin", "gateway", "open"]

_TENANT: Final = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
TENANT_FIELD: Final = "tenant"
GATEWAY_HEADER: Final = "x-gateway-secret"
TENANT_HEADER: Final = "x-tenant-id"
CHALLENGE: Final = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Caller:
    tenant: str
    user: User
    operator: bool = False
    """May use the operators' routes: workers, drains, shared system assistants."""
    custom: CustomAuth | None = None
    request_id: str = "-"

    def audit(self, event: str, **details: object) -> None:
        """An audit line about something this caller did or was denied."""
        actor = self.user.identity or "anonymous"
        audit.record(event, tenant=self.tenant, actor=actor, request_id=self.request_id, **details)

    async def authorize(
        self, resource: Resource, action: Action, value: dict[str, Any]
    ) -> filters.Filter | None:
        """Ask the handlers; raises 403 or the handler's own error. ``value`` may change."""
        if self.custom is None:
            return None
        return await self.custom.authorize(self.user, resource, action, value)

    def run_configurable(self) -> dict[str, Any]:
        """What a run's graph sees of its caller, as langgraph-api gives it."""
        if not self.user.is_authenticated:
            return {}
        return {
            "langgraph_auth_user": self.user.as_config(),
            "langgraph_auth_user_id": self.user.identity,
            "langgraph_auth_permissions": list(self.user.permissions),
        }


@dataclass(frozen=True)
class Gate:
    mode: Mode
    default_tenant: str
    operator_scope: str
    custom: CustomAuth | None = None
    tokens: TokenVerifier | None = None
    tenant_claim: str = TENANT_FIELD
    permissions_claim: str = "permissions"
    gateway_secret: bytes | None = None
    keys: KeyChecker | None = None
    key_cache_seconds: float = 0.0

    @classmethod
    def configure(cls, settings: ApiSettings, server: ServerConfig) -> Gate:
        """The server's mode; raises on settings that cannot authenticate anyone."""
        common: dict[str, Any] = {
            "default_tenant": settings.default_tenant,
            "operator_scope": settings.operator_scope,
        }
        if server.auth is not None:
            custom = CustomAuth.load(server.auth.path, server.auth.folder)
            return cls("custom", custom=custom, **common)
        if settings.auth_enabled:
            secret = settings.jwt_secret
            tokens = TokenVerifier.configure(
                # Empty is unset: Compose passes ${JWT_SECRET:-} as "".
                secret=(secret.get_secret_value() or None) if secret is not None else None,
                jwks_url=settings.jwks_url or None,
                algorithms=settings.jwt_algorithms,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                leeway=settings.jwt_leeway_seconds,
                jwks_max_age=settings.jwks_cache_seconds,
            )
            return cls(
                "builtin",
                tokens=tokens,
                tenant_claim=settings.jwt_tenant_claim,
                permissions_claim=settings.jwt_permissions_claim,
                key_cache_seconds=settings.api_key_cache_seconds,
                **common,
            )
        if settings.gateway_secret is not None:
            secret_bytes = settings.gateway_secret.get_secret_value().encode()
            return cls("gateway", gateway_secret=secret_bytes, **common)
        return cls("open", **common)

    def with_pool(self, pool: asyncpg.Pool) -> Gate:
        """The gate with API keys checked against ``pool`` (built-in mode only)."""
        if self.mode != "builtin":
            return self
        return replace(self, keys=KeyChecker(pool, self.key_cache_seconds))

    async def caller(self, request: Request) -> Caller:
        rid = audit.request_id(request)
        try:
            return replace(await self._caller(request), request_id=rid)
        except ApiError as exc:
            audit.record(
                "auth_failed",
                tenant="-",
                actor="-",
                request_id=rid,
                status=exc.status_code,
                path=request.url.path,
                reason=repr(exc.detail),
            )
            raise

    async def _caller(self, request: Request) -> Caller:
        if self.custom is not None:
            user = await self.custom.authenticate(request)
            return Caller(self._tenant_of(user), user, self._is_operator(user), self.custom)
        if self.mode == "builtin":
            return await self._builtin_caller(request)
        if self.mode == "gateway":
            return self._gateway_caller(request)
        return Caller(self.default_tenant, ANONYMOUS, operator=True)

    async def _builtin_caller(self, request: Request) -> Caller:
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token and self.tokens is not None:
            return await self._token_caller(token.strip())
        api_key = request.headers.get("x-api-key")
        if api_key and self.keys is not None:
            return await self._key_caller(api_key)
        raise UnauthorizedError(
            "Authentication required: a bearer token or an x-api-key", headers=CHALLENGE
        )

    async def _token_caller(self, token: str) -> Caller:
        assert self.tokens is not None
        try:
            claims = await self.tokens.verify(token)
        except InvalidTokenError as exc:
            raise UnauthorizedError(str(exc), headers=CHALLENGE) from None
        tenant = claims.values.get(self.tenant_claim)
        if not isinstance(tenant, str) or not valid_tenant(tenant):
            raise UnauthorizedError(
                f"The token has no valid {self.tenant_claim!r} claim", headers=CHALLENGE
            )
        permissions = _permissions(claims.values, self.permissions_claim)
        user = User(
            identity=claims.subject,
            display_name=str(claims.values.get("name") or claims.subject),
            permissions=permissions,
            fields={TENANT_FIELD: tenant},
        )
        return Caller(tenant, user, self._is_operator(user))

    async def _key_caller(self, presented: str) -> Caller:
        assert self.keys is not None
        try:
            holder = await self.keys.holder(presented)
        except InvalidKeyError as exc:
            raise UnauthorizedError(str(exc)) from None
        user = User(
            identity=f"key:{holder.key_id}",
            display_name=f"API key {holder.key_id}",
            permissions=holder.scopes,
            fields={TENANT_FIELD: holder.tenant},
        )
        return Caller(holder.tenant, user, self._is_operator(user))

    def _gateway_caller(self, request: Request) -> Caller:
        assert self.gateway_secret is not None
        presented = request.headers.get(GATEWAY_HEADER, "").encode()
        if not hmac.compare_digest(presented, self.gateway_secret):
            raise UnauthorizedError("Requests must come through the gateway")
        tenant = request.headers.get(TENANT_HEADER) or self.default_tenant
        if not valid_tenant(tenant):
            raise UnprocessableError(
                "X-Tenant-Id must be 1-64 letters, digits, '_', '-', '.' or ':'"
            )
        return Caller(tenant, ANONYMOUS)

    def _tenant_of(self, user: User) -> str:
        tenant = user.fields.get(TENANT_FIELD)
        if tenant is None:
            return self.default_tenant
        if not isinstance(tenant, str) or not valid_tenant(tenant):
            raise ForbiddenError("The authentication handler returned an invalid tenant")
        return tenant

    def _is_operator(self, user: User) -> bool:
        return self.operator_scope in user.permissions


def _permissions(claims: dict[str, Any], claim: str) -> tuple[str, ...]:
    """The permissions claim (a list) and the standard ``scope`` claim (space-separated)."""
    listed = claims.get(claim)
    scope = claims.get("scope")
    found = [str(p) for p in listed] if isinstance(listed, list) else []
    if isinstance(scope, str):
        found.extend(scope.split())
    return tuple(dict.fromkeys(found))


LOOPBACK_NAMES: Final = frozenset({"localhost", "127.0.0.1", "::1"})


def refuse_open_exposure(gate: Gate, host: str, allow_open: bool) -> None:
    """An open server answers anyone who reaches it: it binds only a loopback address unless
    the operator says, with ``AGENTLIST_API_ALLOW_OPEN``, that something else guards it."""
    if gate.mode != "open" or allow_open or _is_loopback(host):
        return
    raise AuthConfigError(
        f"refusing to serve without authentication on {host}: set AUTH_ENABLED=true with"
        " JWT_SECRET (or AGENTLIST_API_JWKS_URL), name an auth in langgraph.json, set"
        " AGENTLIST_API_GATEWAY_SECRET, or set AGENTLIST_API_ALLOW_OPEN=true if something else"
        " guards this address"
    )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host in LOOPBACK_NAMES


def valid_tenant(tenant: str) -> bool:
    return bool(_TENANT.fullmatch(tenant)) and tenant != SYSTEM_TENANT
