"""Who is calling: the mode a server authenticates in, and the caller of each request.

* **custom**: ``langgraph.json`` names an ``Auth`` object (:mod:`agentlist.api.auth.custom`);
  its ``@auth.authenticate`` decides who calls, and its ``@auth.on`` handlers what they reach.
  The caller's tenant is the ``tenant`` field the authenticator returned, else the default
  tenant: isolation between users of one tenant is the handlers' filters, as in langgraph-api.
* **open**: no authentication, for a server only its own machine reaches. The tenant is the
  default one, or ``X-Tenant-Id`` where a gateway in front of the API is trusted to set it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal

from starlette.requests import Request

from agentlist.api.auth import filters
from agentlist.api.auth.custom import Action, CustomAuth, Resource
from agentlist.api.auth.user import ANONYMOUS, User
from agentlist.api.errors import ForbiddenError, UnprocessableError
from agentlist.contracts.ids import SYSTEM_TENANT
from agentlist.core.langgraph_json import ServerConfig

Mode = Literal["custom", "open"]

_TENANT: Final = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
TENANT_FIELD: Final = "tenant"


@dataclass(frozen=True)
class Caller:
    tenant: str
    user: User
    custom: CustomAuth | None = None

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
    trust_tenant_header: bool = False
    custom: CustomAuth | None = None

    @classmethod
    def configure(
        cls, server: ServerConfig, *, default_tenant: str, trust_tenant_header: bool
    ) -> Gate:
        if server.auth is not None:
            custom = CustomAuth.load(server.auth.path, server.auth.folder)
            return cls("custom", default_tenant, custom=custom)
        return cls("open", default_tenant, trust_tenant_header=trust_tenant_header)

    async def caller(self, request: Request) -> Caller:
        if self.custom is not None:
            user = await self.custom.authenticate(request)
            return Caller(self._tenant_of(user), user, self.custom)
        return Caller(self._tenant_header(request) or self.default_tenant, ANONYMOUS)

    def _tenant_of(self, user: User) -> str:
        tenant = user.fields.get(TENANT_FIELD)
        if tenant is None:
            return self.default_tenant
        if not isinstance(tenant, str) or not valid_tenant(tenant):
            raise ForbiddenError("The authentication handler returned an invalid tenant")
        return tenant

    def _tenant_header(self, request: Request) -> str | None:
        header = request.headers.get("x-tenant-id") if self.trust_tenant_header else None
        if header is not None and not valid_tenant(header):
            raise UnprocessableError(
                "X-Tenant-Id must be 1-64 letters, digits, '_', '-', '.' or ':'"
            )
        return header


def valid_tenant(tenant: str) -> bool:
    return bool(_TENANT.fullmatch(tenant)) and tenant != SYSTEM_TENANT
