"""The caller, as authorization handlers and graphs see it.

:class:`User` has the shape of langgraph_sdk's ``BaseUser`` (``identity``, ``display_name``,
``is_authenticated``, ``permissions``, and item access to those and to any extra field the
authenticator returned), so handlers written for langgraph-api read it unchanged. Graphs get
:meth:`User.as_config` as ``config["configurable"]["langgraph_auth_user"]``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentlist.api.errors import ForbiddenError

_PROPERTIES = ("identity", "display_name", "is_authenticated", "permissions")


@dataclass(frozen=True)
class User:
    identity: str
    display_name: str
    is_authenticated: bool = True
    permissions: tuple[str, ...] = ()
    fields: Mapping[str, Any] = field(default_factory=dict)
    """What else the authenticator returned (``{"identity": ..., "org": ...}``)."""

    def as_config(self) -> dict[str, Any]:
        return {
            **self.fields,
            "identity": self.identity,
            "display_name": self.display_name,
            "is_authenticated": self.is_authenticated,
            "permissions": list(self.permissions),
        }

    def __getitem__(self, key: str) -> Any:
        return self.as_config()[key]

    def __contains__(self, key: object) -> bool:
        return key in _PROPERTIES or key in self.fields

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_config())


ANONYMOUS = User(identity="", display_name="anonymous", is_authenticated=False)
"""The caller of a server without auth (loopback only, where nobody else can call)."""


def to_user(result: object) -> User:
    """What an ``@auth.authenticate`` function returned, as langgraph-api accepts it: an
    identity string; a dict with ``identity`` (and ``permissions``, ``display_name``,
    ``is_authenticated``, extra fields); an object with those attributes; or a
    ``(permissions, user)`` pair."""
    if isinstance(result, tuple) and len(result) == 2:
        permissions, user = result
        base = to_user(user)
        return User(
            base.identity,
            base.display_name,
            base.is_authenticated,
            _permissions(permissions),
            base.fields,
        )
    if isinstance(result, str):
        return User(identity=_identity(result), display_name=result)
    if isinstance(result, Mapping):
        return _from_mapping(result)
    identity = getattr(result, "identity", None)
    if identity is None:
        raise ForbiddenError("The authentication handler returned no identity")
    return User(
        identity=_identity(identity),
        display_name=str(getattr(result, "display_name", identity)),
        is_authenticated=bool(getattr(result, "is_authenticated", True)),
        permissions=_permissions(getattr(result, "permissions", ())),
    )


def _from_mapping(result: Mapping[Any, Any]) -> User:
    identity = _identity(result.get("identity"))
    extra = {str(k): v for k, v in result.items() if k not in _PROPERTIES}
    return User(
        identity=identity,
        display_name=str(result.get("display_name") or identity),
        is_authenticated=bool(result.get("is_authenticated", True)),
        permissions=_permissions(result.get("permissions") or ()),
        fields=extra,
    )


def _identity(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ForbiddenError("The authentication handler returned no identity")
    return value


def _permissions(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ForbiddenError("The authentication handler returned malformed permissions")
    return tuple(str(p) for p in value)
