"""Secrets hygiene (issue 10, point 7), with canaries: every call below carries fresh canary values
in ``Authorization``, ``x-api-key``, ``Cookie``, ``X-Gateway-Secret``, ``Proxy-Authorization`` and
``X-Forwarded-Access-Token`` (and two refused calls carry one in a bad token). Afterwards no
canary may be anywhere: in the log files of every server and service, in Redis, in a JetStream
stream, in a NATS message sent while the calls ran, in a webhook request, or in any row of any
table of Postgres.

The search is proven to work by the same functions finding what is stored by design: the value
of a plain ``x-canary-ok`` header (forwarded to the run's config), the text of an input message
and the id of a run."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
import pytest
import pytest_asyncio
from langgraph_sdk import get_client
from redis.asyncio import Redis
from serverkit import services_on
from waitkit import eventually

from agentlist.launcher import Stack

SECRETS_CONFIG = Path(__file__).resolve().parents[1] / "graphs" / "auth_langgraph.json"
"""tests/graphs/auth_langgraph.json's graphs and auth, and webhooks to 127.0.0.1 allowed."""
CANARY_TOKEN = "token-canary-"
"""tests/graphs/owner_auth.py authenticates any token under this prefix as carol."""
BROKEN_TOKEN = "token-broken-"
"""The authenticator raises an error quoting any token under this prefix (not to be logged)."""
CALL_TIMEOUT = 30.0


def canary(name: str) -> str:
    """Letters, digits and dashes only, so that no encoding (JSON, msgpack, SQL text, a log
    line) can change how it is spelled."""
    return f"canary{name}{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Canaries:
    """The values a client sends: ``secrets`` must never be stored, ``stored`` must be."""

    token: str = field(default_factory=lambda: canary("bearer"))
    api_key: str = field(default_factory=lambda: canary("apikey"))
    cookie: str = field(default_factory=lambda: canary("cookie"))
    gateway_secret: str = field(default_factory=lambda: canary("gateway"))
    proxy: str = field(default_factory=lambda: canary("proxy"))
    access_token: str = field(default_factory=lambda: canary("accesstoken"))
    unknown_token: str = field(default_factory=lambda: canary("unknown"))
    broken_token: str = field(default_factory=lambda: canary("broken"))
    forwarded: str = field(default_factory=lambda: canary("forwarded"))
    said: str = field(default_factory=lambda: canary("said"))

    @property
    def secrets(self) -> dict[str, str]:
        return {
            "Authorization": self.token,
            "x-api-key": self.api_key,
            "Cookie": self.cookie,
            "X-Gateway-Secret": self.gateway_secret,
            "Proxy-Authorization": self.proxy,
            "X-Forwarded-Access-Token": self.access_token,
            "an unknown bearer token": self.unknown_token,
            "a token the authenticator fails on": self.broken_token,
        }

    def headers(self, token: str) -> dict[str, str]:
        """Every credential-bearing header a client might send, and one plain ``x-*`` header."""
        return {
            "Authorization": f"Bearer {token}",
            "Cookie": f"session={self.cookie}; theme=dark",
            "X-Gateway-Secret": self.gateway_secret,
            "Proxy-Authorization": f"Basic {self.proxy}",
            "X-Forwarded-Access-Token": self.access_token,
            "x-canary-ok": self.forwarded,
        }


@dataclass
class Traffic:
    """What went over the wire while the calls ran, besides what the servers keep."""

    nats_messages: list[bytes] = field(default_factory=list)
    webhook_requests: list[bytes] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def hygiene_stack(
    tmp_path_factory: pytest.TempPathFactory, servers: Stack, log_dir: Path
) -> Iterator[Stack]:
    data = tmp_path_factory.mktemp("secrets-stack")
    with services_on(servers, data, log_dir / "secrets", graphs_config=SECRETS_CONFIG) as stack:
        yield stack


@pytest.fixture(scope="module")
def canaries() -> Canaries:
    return Canaries()


async def receive_webhooks(requests: list[bytes]) -> asyncio.Server:
    """A loopback HTTP server that records each request whole (head and body) and answers 200."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        requests.append(head + await reader.readexactly(length))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def make_calls(stack: Stack, canaries: Canaries, traffic: Traffic, webhook: str) -> None:
    """Thread create, streamed and waited runs on a Python and a JS graph, a state update, a
    store put, a cron, a run with a webhook, and two calls the authenticator refuses."""
    carol: Any = get_client(
        url=stack.api_url,
        api_key=canaries.api_key,
        headers=canaries.headers(CANARY_TOKEN + canaries.token),
        timeout=CALL_TIMEOUT,
    )
    hello: Any = {"messages": [{"role": "user", "content": canaries.said}]}
    thread = await carol.threads.create(metadata={"topic": "hygiene"})
    tid = thread["thread_id"]
    async for part in carol.runs.stream(
        tid, "agent", input=hello, stream_mode=["values", "messages-tuple"]
    ):
        if part.event == "metadata":
            traffic.run_ids.append(part.data["run_id"])
    # A thread of its own: LangGraph.js cannot read the Python graph's checkpoints.
    await carol.runs.wait((await carol.threads.create())["thread_id"], "whoami_js", input={})
    await carol.runs.wait(None, "whoami", input={})
    await carol.threads.update_state(tid, {"messages": [{"role": "user", "content": "more"}]})
    await carol.store.put_item(["notes"], "plan", {"text": "carol's"})
    cron = await carol.crons.create_for_thread(tid, "agent", schedule="0 0 1 1 *", input=hello)
    hooked = await carol.runs.create(tid, "agent", input=hello, webhook=webhook)
    traffic.run_ids.append(hooked["run_id"])
    await carol.runs.join(tid, hooked["run_id"])
    await carol.crons.delete(cron["cron_id"])

    refusals = ((canaries.unknown_token, 401), (BROKEN_TOKEN + canaries.broken_token, 403))
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=CALL_TIMEOUT) as http:
        for token, status in refusals:
            headers = {**canaries.headers(token), "x-api-key": canaries.api_key}
            refused = await http.post("/threads/search", json={}, headers=headers)
            assert refused.status_code == status, refused.text


@pytest_asyncio.fixture(scope="module")
async def traffic(hygiene_stack: Stack, canaries: Canaries) -> AsyncIterator[Traffic]:
    """The calls made, with every NATS message and webhook request recorded meanwhile."""
    recorded = Traffic()
    bus = await nats.connect(hygiene_stack.nats_url)

    async def record(msg: Any) -> None:
        recorded.nats_messages.append(msg.subject.encode() + b" " + msg.data)

    await bus.subscribe(">", cb=record)
    hooks = await receive_webhooks(recorded.webhook_requests)
    port = hooks.sockets[0].getsockname()[1]
    try:
        await make_calls(hygiene_stack, canaries, recorded, f"http://127.0.0.1:{port}/hook")
        await eventually(lambda: recorded.webhook_requests, within=CALL_TIMEOUT, what="the webhook")
        await bus.flush()
        yield recorded
    finally:
        hooks.close()
        await bus.drain()


# -- where a value can end up -------------------------------------------------------------------


def in_logs(log_dir: Path, needles: list[str]) -> dict[str, set[str]]:
    """For each needle, the log files (of the servers and of every stack's services) holding it."""
    found: dict[str, set[str]] = {needle: set() for needle in needles}
    for path in log_dir.rglob("*"):
        if not path.is_file():
            continue
        content = path.read_bytes()
        for needle in needles:
            if needle.encode() in content:
                found[needle].add(f"log {path.relative_to(log_dir)}")
    return found


async def redis_contents(redis_url: str) -> list[tuple[str, bytes]]:
    """Every key of Redis with everything it holds, whatever its type."""
    # Untyped: redis-py's answers are typed for every decoding at once.
    redis: Any = Redis.from_url(redis_url)
    contents: list[tuple[str, bytes]] = []
    try:
        async for key in redis.scan_iter(count=500):
            kind = (await redis.type(key)).decode()
            held: list[bytes]
            if kind == "string":
                held = [await redis.get(key) or b""]
            elif kind == "hash":
                held = [item for pair in (await redis.hgetall(key)).items() for item in pair]
            elif kind == "stream":
                entries = await redis.xrange(key)
                held = [item for _, fields in entries for pair in fields.items() for item in pair]
            elif kind == "list":
                held = await redis.lrange(key, 0, -1)
            elif kind == "set":
                held = list(await redis.smembers(key))
            elif kind == "zset":
                held = await redis.zrange(key, 0, -1)
            else:
                held = []
            contents.append((f"redis {kind} {key.decode()}", b"\n".join([key, *held])))
    finally:
        await redis.aclose()
    return contents


async def jetstream_contents(nats_url: str) -> list[tuple[str, bytes]]:
    """Every message still held by every JetStream stream, with its headers."""
    bus = await nats.connect(nats_url)
    contents: list[tuple[str, bytes]] = []
    try:
        js = bus.jetstream()
        for stream in await js.streams_info():
            name, state = str(stream.config.name), stream.state
            for seq in range(state.first_seq, state.last_seq + 1 if state.messages else 0):
                try:
                    msg = await js.get_msg(name, seq)
                except nats.js.errors.NotFoundError:
                    continue  # deleted, or aged out since stream_info
                headers = b"".join(
                    f"{key}: {value}\n".encode() for key, value in (msg.headers or {}).items()
                )
                contents.append((f"jetstream {name} #{seq}", headers + (msg.data or b"")))
    finally:
        await bus.drain()
    return contents


async def in_postgres(database_url: str, needles: list[str]) -> dict[str, set[str]]:
    """For each needle, the tables (of every schema but Postgres' own) with a row holding it:
    the row cast to text, and every ``bytea`` column decoded (msgpack keeps strings as UTF-8)."""
    found: dict[str, set[str]] = {needle: set() for needle in needles}
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_type = 'BASE TABLE'"
            " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        for schema, table in tables:
            binary = await conn.fetch(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = $1 AND table_name = $2 AND data_type = 'bytea'",
                schema,
                table,
            )
            texts = ["r::text"] + [f"encode(r.{quote(column)}, 'escape')" for (column,) in binary]
            source = f"{quote(schema)}.{quote(table)}"
            for needle in needles:
                hit = " OR ".join(f"strpos({text}, $1) > 0" for text in texts)
                if await conn.fetchval(
                    f"SELECT EXISTS (SELECT FROM {source} r WHERE {hit})", needle
                ):
                    found[needle].add(f"postgres {schema}.{table}")
    finally:
        await conn.close()
    return found


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def holding(contents: list[tuple[str, bytes]], needles: list[str]) -> dict[str, set[str]]:
    return {
        needle: {place for place, content in contents if needle.encode() in content}
        for needle in needles
    }


async def places_holding(
    needles: list[str], servers: Stack, log_dir: Path, traffic: Traffic
) -> dict[str, set[str]]:
    """For each needle, every place it was found: ``log …``, ``redis …``, ``jetstream …``,
    ``nats …``, ``webhook`` or ``postgres …``."""
    found: dict[str, set[str]] = {needle: set() for needle in needles}
    wire = [(f"nats {msg.split(b' ', 1)[0].decode()}", msg) for msg in traffic.nats_messages]
    wire += [("webhook", request) for request in traffic.webhook_requests]
    for places in (
        in_logs(log_dir, needles),
        holding(await redis_contents(servers.redis_url), needles),
        holding(await jetstream_contents(servers.nats_url), needles),
        holding(wire, needles),
        await in_postgres(servers.database_url, needles),
    ):
        for needle, where in places.items():
            found[needle] |= where
    return found


def kinds(places: set[str]) -> set[str]:
    return {place.split(" ", 1)[0] for place in places}


async def test_the_search_finds_what_is_stored_by_design(
    traffic: Traffic, canaries: Canaries, servers: Stack, log_dir: Path
) -> None:
    """Without this, a search that looks nowhere would pass the test below."""
    run_id = traffic.run_ids[0]
    found = await places_holding(
        [canaries.forwarded, canaries.said, run_id], servers, log_dir, traffic
    )
    assert {"postgres", "nats", "webhook"} <= kinds(found[canaries.forwarded]), found
    assert {"postgres", "redis", "jetstream", "nats", "webhook"} <= kinds(found[canaries.said])
    assert "log" in kinds(found[run_id]), found[run_id]


async def test_no_credential_is_logged_stored_or_sent_anywhere(
    traffic: Traffic, canaries: Canaries, servers: Stack, log_dir: Path
) -> None:
    found = await places_holding(list(canaries.secrets.values()), servers, log_dir, traffic)
    leaks = {
        header: sorted(found[value]) for header, value in canaries.secrets.items() if found[value]
    }
    assert leaks == {}
