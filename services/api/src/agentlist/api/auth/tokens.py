"""Built-in JWT verification (``AUTH_ENABLED=true``): HS256 with ``JWT_SECRET``, or RS256/ES256
with public keys from a JWKS URL, chosen by ``kid``.

What a token cannot decide for itself:

* **the algorithm**: the accepted ones are configured, never read from the token, so neither
  ``alg: none`` nor an HS256 token signed with a published RSA key gets through;
* **where its key comes from**: a token naming a key location of its own (``jku``, ``x5u``,
  ``jwk``, ``x5c``) is refused outright, whatever it is signed with;
* **whether it expires**: ``exp`` and ``sub`` are required, ``iss`` and ``aud`` are checked when
  configured, clocks may disagree by at most the configured leeway (60 s at most).

Every refusal is one :class:`InvalidTokenError` whose message names the reason without echoing
the token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import jwt
from jwt.exceptions import PyJWKError, PyJWTError

from agentlist.api.auth import AuthConfigError

logger = logging.getLogger(__name__)

FOREIGN_KEY_HEADERS: Final = frozenset({"jku", "x5u", "jwk", "x5c"})
SYMMETRIC: Final = ("HS256",)
ASYMMETRIC: Final = ("RS256", "ES256")
MIN_SECRET_BYTES: Final = 32
"""RFC 7518 §3.2: an HS256 key at least as long as its hash output."""
REFETCH_AT_MOST_EVERY: Final = 10.0
"""Seconds between JWKS fetches for an unknown ``kid``, so random ``kid``s cannot make the API
hammer the key server."""
FETCH_TIMEOUT: Final = 5.0


class InvalidTokenError(ValueError):
    """The token does not prove who the caller is; the message says why."""


class TokenConfigError(AuthConfigError):
    """The JWT settings cannot verify anything (a short secret, an algorithm without a key)."""


@dataclass(frozen=True)
class Claims:
    subject: str
    values: dict[str, Any]


@dataclass
class KeySet:
    """Public keys from a JWKS URL by ``kid``, refetched when stale or when a token names a
    ``kid`` not seen yet (at most every :data:`REFETCH_AT_MOST_EVERY` seconds)."""

    url: str
    max_age: float
    _keys: dict[str, Any] = field(default_factory=dict)
    _fetched_at: float = float("-inf")
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def key_for(self, kid: str) -> Any:
        age = time.monotonic() - self._fetched_at
        if age > self.max_age or (kid not in self._keys and age > REFETCH_AT_MOST_EVERY):
            await self._refresh()
        key = self._keys.get(kid)
        if key is None:
            raise InvalidTokenError("The token's signing key (kid) is unknown")
        return key

    async def _refresh(self) -> None:
        async with self._lock:
            try:
                async with httpx.AsyncClient(timeout=FETCH_TIMEOUT) as http:
                    response = await http.get(self.url, follow_redirects=False)
                response.raise_for_status()
                keys = jwt.PyJWKSet.from_dict(response.json()).keys
            except (httpx.HTTPError, ValueError, PyJWKError) as exc:
                # Keep the keys we had: a key server's hiccup must not lock everyone out.
                logger.warning("auth: fetching the JWKS failed: %s", type(exc).__name__)
                self._fetched_at = time.monotonic()
                return
            self._keys = {key.key_id: key.key for key in keys if key.key_id}
            self._fetched_at = time.monotonic()


@dataclass(frozen=True)
class TokenVerifier:
    algorithms: tuple[str, ...]
    secret: bytes | None
    key_set: KeySet | None
    issuer: str | None
    audience: str | None
    leeway: int

    @classmethod
    def configure(
        cls,
        *,
        secret: str | None,
        jwks_url: str | None,
        algorithms: tuple[str, ...],
        issuer: str | None,
        audience: str | None,
        leeway: int,
        jwks_max_age: float,
    ) -> TokenVerifier:
        if secret is not None and len(secret.encode()) < MIN_SECRET_BYTES:
            raise TokenConfigError(f"JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
        if secret is None and jwks_url is None:
            raise TokenConfigError("AUTH_ENABLED needs JWT_SECRET or AGENTLIST_API_JWKS_URL")
        configured = (SYMMETRIC if secret is not None else ()) + (ASYMMETRIC if jwks_url else ())
        chosen = algorithms or configured
        unusable = [
            name
            for name in chosen
            if name not in SYMMETRIC + ASYMMETRIC
            or (name in SYMMETRIC and secret is None)
            or (name in ASYMMETRIC and jwks_url is None)
        ]
        if unusable:
            raise TokenConfigError(f"JWT algorithms {unusable} have no key configured")
        return cls(
            algorithms=tuple(chosen),
            secret=secret.encode() if secret is not None else None,
            key_set=KeySet(jwks_url, jwks_max_age) if jwks_url else None,
            issuer=issuer,
            audience=audience,
            leeway=leeway,
        )

    async def verify(self, token: str) -> Claims:
        header = _header(token)
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            raise InvalidTokenError("The token's algorithm is not accepted")
        key = await self._key(algorithm, header)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": ["exp", "sub"], "verify_aud": self.audience is not None},
            )
        except PyJWTError as exc:
            raise InvalidTokenError(f"The token is not valid ({_reason(exc)})") from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise InvalidTokenError("The token's sub is not a string")
        return Claims(subject, claims)

    async def _key(self, algorithm: str, header: dict[str, Any]) -> Any:
        if algorithm in SYMMETRIC:
            return self.secret
        kid = header.get("kid")
        if self.key_set is None or not isinstance(kid, str):
            raise InvalidTokenError("The token names no signing key (kid)")
        return await self.key_set.key_for(kid)


def _header(token: str) -> dict[str, Any]:
    try:
        header: dict[str, Any] = jwt.get_unverified_header(token)
    except PyJWTError:
        raise InvalidTokenError("The token is not a JWT") from None
    foreign = sorted(FOREIGN_KEY_HEADERS & header.keys())
    if foreign:
        raise InvalidTokenError(f"The token names a key of its own ({', '.join(foreign)})")
    return header


def _reason(exc: PyJWTError) -> str:
    reasons = {
        jwt.ExpiredSignatureError: "expired",
        jwt.InvalidIssuerError: "wrong issuer",
        jwt.InvalidAudienceError: "wrong audience",
        jwt.MissingRequiredClaimError: "a required claim is missing",
        jwt.InvalidSignatureError: "bad signature",
        jwt.ImmatureSignatureError: "not valid yet",
    }
    for kind, reason in reasons.items():
        if isinstance(exc, kind):
            return reason
    return "malformed"
