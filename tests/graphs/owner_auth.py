"""A custom ``Auth`` as a langgraph-api user writes it: bearer tokens, the owner pattern (stamp
the owner on create, filter every other action by it), and a permission for deletes."""

from __future__ import annotations

from typing import Any

from langgraph_sdk import Auth

auth = Auth()

USERS: dict[str, dict[str, Any]] = {
    "token-alice": {"identity": "alice", "permissions": ["threads:delete"], "team": "red"},
    "token-bob": {"identity": "bob", "permissions": []},
    "token-viewer": {"identity": "viewer", "permissions": ["read-only"]},
}
READ_ONLY = "read-only"
"""A caller who may look but never start a run, however it asks for one."""
BROKEN = "token-broken"
"""Makes the authenticator fail with an error of its own (that quotes the token): the server must
deny, not allow, and not log the error's message."""
CANARY = "token-canary-"
"""Any token under this prefix is carol's: tests/e2e/test_secrets_hygiene.py puts a fresh canary
after it, then searches every log and store for it."""


@auth.authenticate
async def authenticate(authorization: str | None) -> Auth.types.MinimalUserDict:
    if authorization is None or not authorization.startswith("Bearer "):
        raise Auth.exceptions.HTTPException(status_code=401, detail="Missing bearer token")
    token = authorization.removeprefix("Bearer ")
    if token.startswith(BROKEN):
        raise RuntimeError(f"the user store is down (token {token})")
    if token.startswith(CANARY):
        return {"identity": "carol", "permissions": []}
    user = USERS.get(token)
    if user is None:
        raise Auth.exceptions.HTTPException(status_code=401, detail="Unknown token")
    return user  # type: ignore[return-value]


@auth.on
async def owner_only(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> dict[str, str]:
    metadata = value.get("metadata")
    if isinstance(metadata, dict):
        metadata["owner"] = ctx.user.identity
    return {"owner": ctx.user.identity}


@auth.on.threads.create_run
async def runs_are_not_for_readers(
    ctx: Auth.types.AuthContext, value: Auth.types.RunsCreate
) -> Auth.types.FilterType | bool:
    if READ_ONLY in ctx.permissions:
        return False
    return await owner_only(ctx, dict(value))  # a copy, but of the same metadata dict


@auth.on.threads.delete
async def delete_needs_permission(
    ctx: Auth.types.AuthContext, value: Auth.types.ThreadsDelete
) -> Auth.types.FilterType | bool:
    if "threads:delete" not in ctx.permissions:
        return False
    return {"owner": ctx.user.identity}


@auth.on.store
async def own_namespace(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> None:
    value["namespace"] = (ctx.user.identity, *value["namespace"])
