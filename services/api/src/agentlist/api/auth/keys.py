"""API keys for service accounts, sent as ``x-api-key`` (what the SDKs and agent-chat-ui send).

A key reads ``al_<key id>_<secret>``. The id finds the row; the secret is checked against the
SHA-256 kept in its place. A plain hash is enough here, where a password would need a slow
one: the secret is 256 random bits, so there is nothing to guess from its hash.

Lookups are reused for a few seconds (``AGENTLIST_API_API_KEY_CACHE_SECONDS``) so that a busy
client does not cost a Postgres round trip per request; a revoked key therefore stops working
within that time, on every API instance.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Final

import asyncpg

from agentlist.api.db import keys as key_rows

PREFIX: Final = "al"
_KEY: Final = re.compile(r"^al_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_MOST_CACHED: Final = 10_000


class InvalidKeyError(ValueError):
    """The key is malformed, unknown or revoked (the caller is not told which)."""


@dataclass(frozen=True)
class KeyHolder:
    key_id: str
    tenant: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class NewKey:
    key_id: str
    secret: str

    @property
    def token(self) -> str:
        return f"{PREFIX}_{self.key_id}_{self.secret}"

    @property
    def secret_sha256(self) -> bytes:
        return _digest(self.secret)


def new_key() -> NewKey:
    return NewKey(key_id=secrets.token_hex(8), secret=secrets.token_urlsafe(32))


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


@dataclass
class KeyChecker:
    pool: asyncpg.Pool
    cache_seconds: float
    _cache: OrderedDict[str, tuple[float, KeyHolder]] = field(default_factory=OrderedDict)

    async def holder(self, presented: str) -> KeyHolder:
        match = _KEY.fullmatch(presented)
        if match is None:
            raise InvalidKeyError("Invalid API key")
        key_id, secret = match.groups()
        cached = self._cache.get(presented)
        if cached is not None and time.monotonic() < cached[0]:
            return cached[1]
        row = await key_rows.live(self.pool, key_id)
        if row is None or not hmac.compare_digest(bytes(row["secret_sha256"]), _digest(secret)):
            raise InvalidKeyError("Invalid API key")
        holder = KeyHolder(key_id, row["tenant_id"], tuple(row["scopes"]))
        self._remember(presented, holder)
        return holder

    def _remember(self, presented: str, holder: KeyHolder) -> None:
        if self.cache_seconds <= 0:
            return
        self._cache[presented] = (time.monotonic() + self.cache_seconds, holder)
        self._cache.move_to_end(presented)
        if len(self._cache) > _MOST_CACHED:
            self._cache.popitem(last=False)
