"""Built-in authentication (``AUTH_ENABLED=true``), through the official SDK and raw HTTP: JWTs
from an HS256 secret or a JWKS, API keys from ``agentlist keys``, tenants that never see each
other, operators' routes, and the audit trail. Every attack here is performed, not assumed."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from authkit import ID_PARAMETERS, Issuer, bearer, guarded_operations, serving_jwks, status_of
from cryptography.hazmat.primitives import serialization
from langgraph_sdk import get_client
from serverkit import FAST_TIMINGS, services_on
from waitkit import eventually

from agentlist.launcher import Stack

CONFIG = Path(__file__).resolve().parents[1] / "graphs" / "builtin_auth_langgraph.json"
JS_SMOKE = Path(__file__).resolve().parents[1] / "js" / "smoke.mjs"
ISSUER = Issuer(secret="s" * 16 + uuid.uuid4().hex, issuer="https://id.test", audience="agentlist")


@pytest.fixture(scope="module")
def auth_log_dir(log_dir: Path) -> Path:
    return log_dir / "builtin-auth"


@pytest.fixture(scope="module")
def jwt_stack(
    tmp_path_factory: pytest.TempPathFactory, servers: Stack, auth_log_dir: Path
) -> Iterator[Stack]:
    with serving_jwks(ISSUER) as jwks_url:
        env = {
            **FAST_TIMINGS,
            "AUTH_ENABLED": "true",
            "JWT_SECRET": ISSUER.secret,
            "AGENTLIST_API_JWKS_URL": jwks_url,
            "AGENTLIST_API_JWT_ISSUER": ISSUER.issuer,
            "AGENTLIST_API_JWT_AUDIENCE": ISSUER.audience,
            "AGENTLIST_API_API_KEY_CACHE_SECONDS": "0",
        }
        data = tmp_path_factory.mktemp("builtin-auth")
        with services_on(servers, data, auth_log_dir, graphs_config=CONFIG, env=env) as stack:
            yield stack


def token(subject: str, tenant: str, **extra: Any) -> str:
    return ISSUER.hs256(ISSUER.claims(subject, tenant, **extra))


def client(stack: Stack, subject: str, tenant: str, **extra: Any) -> Any:
    return get_client(url=stack.api_url, headers=bearer(token(subject, tenant, **extra)))


def without(claims: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in claims.items() if key != name}


def forged_tokens() -> dict[str, str]:
    """Tokens an attacker can make: each must be refused with 401."""
    claims = ISSUER.claims("mallory", "acme")
    public_pem = ISSUER.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    unsigned = jwt.encode(claims, key="", algorithm="none")
    attacker = Issuer(secret="a" * 40, issuer=ISSUER.issuer, audience=ISSUER.audience)
    now = int(time.time())
    return {
        "alg none": unsigned,
        "alg none, uppercase": _with_header(unsigned, {"alg": "NONE", "typ": "JWT"}),
        "HS256 signed with the RSA public key": _hmac_with(public_pem, claims),
        "unknown kid": ISSUER.rs256(claims, kid="rsa-404"),
        "another issuer's key under our kid": attacker.rs256(claims, kid="rsa-1"),
        "jku header": ISSUER.rs256(claims, jku="http://127.0.0.1:9/jwks.json"),
        "x5u header": ISSUER.hs256(claims, x5u="http://127.0.0.1:9/cert.pem"),
        "expired beyond the leeway": ISSUER.hs256({**claims, "exp": now - 120}),
        "wrong issuer": ISSUER.hs256({**claims, "iss": "https://evil.test"}),
        "wrong audience": ISSUER.hs256({**claims, "aud": "someone-else"}),
        "no exp": ISSUER.hs256(without(claims, "exp")),
        "no sub": ISSUER.hs256(without(claims, "sub")),
        "no tenant": ISSUER.hs256(without(claims, "tenant")),
        "the system tenant": ISSUER.hs256({**claims, "tenant": "__system__"}),
        "wrong secret": attacker.hs256(claims),
        "not a JWT": "not-a-jwt",
    }


def _with_header(token_text: str, header: dict[str, Any]) -> str:
    _, payload, signature = token_text.split(".")
    encoded = jwt.utils.base64url_encode(json.dumps(header).encode()).decode()
    return f"{encoded}.{payload}.{signature}"


def _hmac_with(key: bytes, claims: dict[str, Any]) -> str:
    """HS256 keyed with the RSA public key, the classic confusion attack: pyjwt refuses to
    sign with a PEM key, so the signature is made by hand."""
    header = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = jwt.utils.base64url_encode(json.dumps(claims).encode())
    signing_input = header + b"." + payload
    signature = jwt.utils.base64url_encode(hmac.new(key, signing_input, hashlib.sha256).digest())
    return (signing_input + b"." + signature).decode()


async def test_a_request_without_credentials_is_401_on_every_guarded_route(
    jwt_stack: Stack,
) -> None:
    async with httpx.AsyncClient(base_url=jwt_stack.api_url) as http:
        assert (await http.get("/info")).json()["auth"] == "builtin"
        operations = guarded_operations((await http.get("/openapi.json")).json())
        for method, path in operations:
            body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
            response = await http.request(method, path, json=body)
            assert response.status_code == 401, (method, path, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
            assert "detail" in response.json()


async def test_forged_tokens_are_401_and_genuine_ones_pass(jwt_stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=jwt_stack.api_url) as http:
        for what, forged in forged_tokens().items():
            response = await http.post("/threads/search", json={}, headers=bearer(forged))
            assert response.status_code == 401, (what, response.text)
            assert forged not in response.text
        claims = ISSUER.claims("alice", "acme")
        late_but_within_leeway = {**claims, "exp": int(time.time()) - 10}
        for genuine in (
            ISSUER.hs256(claims),
            ISSUER.rs256(claims),
            ISSUER.es256(claims),
            ISSUER.hs256(late_but_within_leeway),
        ):
            response = await http.post("/threads/search", json={}, headers=bearer(genuine))
            assert response.status_code == 200, response.text


async def test_the_graph_sees_the_verified_caller(jwt_stack: Stack) -> None:
    alice = client(jwt_stack, "alice", "acme", permissions=["threads:write"], scope="read")
    thread = await alice.threads.create()
    forged = {"langgraph_auth_user_id": "mallory"}
    state = await alice.runs.wait(
        thread["thread_id"], "whoami", input={}, config={"configurable": forged}
    )
    assert state["user_id"] == "alice"
    assert state["permissions"] == ["threads:write", "read"]
    assert state["user"]["tenant"] == "acme"


async def test_another_tenant_gets_404_on_every_route_that_takes_an_id(jwt_stack: Stack) -> None:
    """Every route of the OpenAPI document with an id in its path, so a route added later
    cannot slip through: tenant B holding tenant A's ids finds nothing."""
    tenant_a, tenant_b = f"a-{uuid.uuid4().hex[:6]}", f"b-{uuid.uuid4().hex[:6]}"
    alice = client(jwt_stack, "alice", tenant_a)
    assistant = await alice.assistants.create("agent", name="a's")
    thread = await alice.threads.create()
    run = await alice.runs.create(thread["thread_id"], assistant["assistant_id"], input={})
    await alice.runs.join(thread["thread_id"], run["run_id"])
    cron = await alice.crons.create_for_thread(
        thread["thread_id"], assistant["assistant_id"], schedule="0 0 1 1 *"
    )
    ids = {
        "thread_id": thread["thread_id"],
        "run_id": run["run_id"],
        "assistant_id": assistant["assistant_id"],
        "cron_id": cron["cron_id"],
    }
    body = {
        "assistant_id": "agent",
        "input": {},
        "values": {},
        "checkpoint": {},
        "schedule": "0 0 1 1 *",
        "metadata": {},
        "version": 1,
    }
    headers_b = bearer(token("bob", tenant_b))
    async with httpx.AsyncClient(base_url=jwt_stack.api_url, timeout=30) as http:
        paths = (await http.get("/openapi.json", headers=headers_b)).json()["paths"]
        checked = 0
        for template, methods in paths.items():
            names = [name for name in ID_PARAMETERS if "{" + name + "}" in template]
            if not names or "worker_id" in names:
                continue
            path = template
            for name in names:
                path = path.replace("{" + name + "}", ids[name])
            for method in methods:
                sent = body if method.upper() in ("POST", "PUT", "PATCH") else None
                response = await http.request(method, path, json=sent, headers=headers_b)
                assert response.status_code == 404, (method, template, response.text)
                checked += 1
        assert checked >= 30
        # And tenant A still has every one of them.
        assert (await alice.threads.get(ids["thread_id"]))["thread_id"] == ids["thread_id"]
        assert (await alice.runs.get(ids["thread_id"], ids["run_id"]))["status"] == "success"
        assert (await alice.assistants.get(ids["assistant_id"]))["name"] == "a's"


async def test_searches_show_only_the_callers_tenant(jwt_stack: Stack) -> None:
    tenant_a, tenant_b = f"a-{uuid.uuid4().hex[:6]}", f"b-{uuid.uuid4().hex[:6]}"
    alice, bob = client(jwt_stack, "alice", tenant_a), client(jwt_stack, "bob", tenant_b)
    mine = await alice.threads.create(metadata={"k": "v"})
    await alice.assistants.create("agent", name="a's", metadata={"k": "v"})
    assert [t["thread_id"] for t in await alice.threads.search(metadata={"k": "v"})] == [
        mine["thread_id"]
    ]
    assert await bob.threads.search(metadata={"k": "v"}) == []
    assert await bob.threads.count(metadata={"k": "v"}) == 0
    assert await bob.assistants.search(metadata={"k": "v"}) == []
    assert await bob.crons.search() == []


def keys_command(servers: Stack, *args: str) -> Any:
    completed = subprocess.run(
        [sys.executable, "-m", "agentlist.cli", "keys", *args],
        env={**os.environ, "DATABASE_URL": servers.database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(completed.stdout)


async def test_api_keys_from_the_cli_work_with_the_sdk_until_revoked(
    jwt_stack: Stack, servers: Stack, pg_pool: asyncpg.Pool
) -> None:
    tenant = f"svc-{uuid.uuid4().hex[:6]}"
    created = keys_command(servers, "create", "--tenant", tenant, "--name", "ci bot")
    api_key = created["api_key"]
    service = get_client(url=jwt_stack.api_url, api_key=api_key)
    thread = await service.threads.create()
    result = await service.runs.wait(thread["thread_id"], "agent", input={"messages": []})
    assert isinstance(result, dict) and result["turns"] == 1
    assert [m["content"] for m in result["messages"]] == ["echo: "]
    owner = client(jwt_stack, "carol", tenant)
    assert (await owner.threads.get(thread["thread_id"]))["thread_id"] == thread["thread_id"]

    listed = keys_command(servers, "list", "--tenant", tenant)
    assert [k["key_id"] for k in listed] == [created["key_id"]]
    assert api_key not in json.dumps(listed)
    stored = await pg_pool.fetchval(
        "SELECT row_to_json(k)::text FROM api_keys k WHERE key_id = $1", created["key_id"]
    )
    _prefix, _key_id, secret = api_key.split("_", 2)  # the secret may hold "_" itself
    assert secret not in stored and api_key not in stored

    keys_command(servers, "revoke", created["key_id"])
    assert await status_of(service.threads.get(thread["thread_id"])) == 401
    tampered = api_key[:-1] + ("A" if api_key[-1] != "A" else "B")
    tampered_client = get_client(url=jwt_stack.api_url, api_key=tampered)
    assert await status_of(tampered_client.threads.search()) == 401


async def test_operator_routes_need_the_operator_permission(jwt_stack: Stack) -> None:
    tenant = f"ops-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=jwt_stack.api_url) as http:
        plain = bearer(token("dave", tenant))
        operator = bearer(token("olga", tenant, scope="operator"))
        assert (await http.get("/workers", headers=plain)).status_code == 403
        assert (await http.post("/workers/w-1/drain", headers=plain)).status_code == 403
        listed = await http.get("/workers", headers=operator)
        assert listed.status_code == 200 and listed.json()
        assert (await http.post("/workers/no-such/drain", headers=operator)).status_code == 404
        details = ("/metrics/queue-depth", "/metrics/workers", "/metrics/api-latency")
        for detail in (*details, "/workers/pools"):
            assert (await http.get(detail, headers=plain)).status_code == 403, detail
            assert (await http.get(detail, headers=operator)).status_code == 200, detail


async def test_refusals_and_denials_reach_the_audit_trail(
    jwt_stack: Stack, auth_log_dir: Path
) -> None:
    tenant_a, tenant_b = f"a-{uuid.uuid4().hex[:6]}", f"b-{uuid.uuid4().hex[:6]}"
    thread = await client(jwt_stack, "alice", tenant_a).threads.create()
    request_id = uuid.uuid4().hex
    async with httpx.AsyncClient(base_url=jwt_stack.api_url) as http:
        forged = {**bearer("not-a-jwt"), "X-Request-Id": f"{request_id}-1"}
        assert (await http.post("/threads/search", json={}, headers=forged)).status_code == 401
        nosy = {**bearer(token("bob", tenant_b)), "X-Request-Id": f"{request_id}-2"}
        path = f"/threads/{thread['thread_id']}"
        assert (await http.get(path, headers=nosy)).status_code == 404
    log = auth_log_dir / "api-1.log"

    def audit_lines() -> list[str]:
        return [line for line in log.read_text().splitlines() if request_id in line]

    lines = await eventually(audit_lines, lambda found: len(found) == 2, within=5)
    refused = next(line for line in lines if f"request_id={request_id}-1" in line)
    denied = next(line for line in lines if f"request_id={request_id}-2" in line)
    assert "event=auth_failed" in refused and "status=401" in refused
    assert "not-a-jwt" not in refused
    assert "event=denied_hidden" in denied and f"tenant={tenant_b}" in denied
    assert "actor=bob" in denied and thread["thread_id"] in denied


def test_an_open_api_refuses_a_public_address(servers: Stack) -> None:
    env = {
        **os.environ,
        "HOST": "0.0.0.0",
        "PORT": "0",
        "DATABASE_URL": servers.database_url,
        "NATS_URL": servers.nats_url,
        "REDIS_URL": servers.redis_url,
    }
    for name in ("AUTH_ENABLED", "AGENTLIST_API_GATEWAY_SECRET", "AGENTLIST_API_ALLOW_OPEN"):
        env.pop(name, None)
    completed = subprocess.run(
        [sys.executable, "-m", "agentlist.api"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 1
    assert "refusing to serve without authentication on 0.0.0.0" in completed.stderr


def run_js_smoke(stack: Stack, **credentials: str) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "node is needed for the JS SDK test"
    finished = subprocess.run(
        [node, str(JS_SMOKE)],
        env={**os.environ, "AGENTLIST_API_URL": stack.api_url, **credentials},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    summary: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return summary


def test_the_js_sdk_works_with_an_api_key_and_with_a_bearer_token(
    jwt_stack: Stack, servers: Stack
) -> None:
    created = keys_command(servers, "create", "--tenant", f"js-{uuid.uuid4().hex[:6]}")
    by_key = run_js_smoke(jwt_stack, AGENTLIST_API_KEY=created["api_key"])
    assert by_key["ok"] is True and by_key["tokens"] == "echo: hi from js"
    by_token = run_js_smoke(jwt_stack, AGENTLIST_BEARER=token("jo", "js-tenant"))
    assert by_token["ok"] is True and by_token["tokens"] == "echo: hi from js"
