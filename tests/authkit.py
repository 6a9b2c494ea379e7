"""What the authentication tests share: every guarded route of the served OpenAPI document,
the status of a refused SDK call, and JWTs minted the way an identity provider (or an attacker)
would."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from langgraph_sdk import get_client

from agentlist.launcher import Stack

OPEN_PATHS = {"/ok", "/info", "/health", "/metrics"}
"""Routes langgraph-api also leaves open (liveness, version; ours: health and metrics)."""
ID_PARAMETERS = ("thread_id", "run_id", "assistant_id", "cron_id", "worker_id")


def guarded_operations(openapi: dict[str, Any]) -> list[tuple[str, str]]:
    """Every route of the served OpenAPI document, its path ids filled in, but the open ones."""
    operations = []
    for path, methods in openapi["paths"].items():
        if path in OPEN_PATHS:
            continue
        concrete = path
        for name in ID_PARAMETERS:
            concrete = concrete.replace("{" + name + "}", str(uuid.uuid4()))
        for method in methods:
            operations.append((method.upper(), concrete))
    return operations


async def status_of(call: Any) -> int:
    """The HTTP status an SDK call failed with (it must fail)."""
    with pytest.raises(httpx.HTTPStatusError) as raised:
        await call
    return raised.value.response.status_code


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def bearer_client(stack: Stack, token: str) -> Any:
    """The official SDK as a caller presenting ``token``."""
    return get_client(url=stack.api_url, headers=bearer(token))


class Issuer:
    """An identity provider: an HS256 secret, and RSA and EC keys published as a JWKS."""

    def __init__(self, secret: str, issuer: str, audience: str) -> None:
        self.secret = secret
        self.issuer = issuer
        self.audience = audience
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())

    def jwks(self) -> dict[str, Any]:
        rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.rsa.public_key()))
        ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec.public_key()))
        return {
            "keys": [
                {**rsa_jwk, "kid": "rsa-1", "alg": "RS256", "use": "sig"},
                {**ec_jwk, "kid": "ec-1", "alg": "ES256", "use": "sig"},
            ]
        }

    def claims(self, subject: str, tenant: str, **extra: Any) -> dict[str, Any]:
        now = int(time.time())
        return {
            "sub": subject,
            "tenant": tenant,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + 300,
            **extra,
        }

    def hs256(self, claims: dict[str, Any], **headers: Any) -> str:
        return jwt.encode(claims, self.secret, algorithm="HS256", headers=headers or None)

    def rs256(self, claims: dict[str, Any], kid: str = "rsa-1", **headers: Any) -> str:
        return jwt.encode(claims, self.rsa, algorithm="RS256", headers={"kid": kid, **headers})

    def es256(self, claims: dict[str, Any], kid: str = "ec-1") -> str:
        return jwt.encode(claims, self.ec, algorithm="ES256", headers={"kid": kid})


@contextmanager
def serving_jwks(issuer: Issuer) -> Iterator[str]:
    """The issuer's JWKS over HTTP on loopback; yields its URL."""
    body = json.dumps(issuer.jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
