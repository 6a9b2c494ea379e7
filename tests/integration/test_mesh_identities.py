"""The bus and the stream store trust no one: the attacks that worked against an open NATS and
Redis, performed against the servers the launcher starts, each shown to fail; and what each
role needs still works."""

from __future__ import annotations

import stat
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import nats.errors
import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.aio.msg import Msg
from natskit import Violations, heard
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, NoPermissionError, ResponseError

from agentlist.contracts import subjects
from agentlist.contracts.access import DEFAULT_TEAM
from agentlist.contracts.streams import run_stream_key, tenant_run_bucket_key, thread_stream_key
from agentlist.launcher import Stack
from agentlist.launcher.identities import FILE_NAME, Role


@pytest_asyncio.fixture
async def admin(servers: Stack) -> AsyncIterator[Client]:
    client = await nats.connect(servers.nats_url)
    yield client
    await client.close()


async def connect_as(servers: Stack, role: Role, violations: Violations) -> Client:
    return await nats.connect(
        servers.url_as(servers.nats_url, role),
        inbox_prefix=f"_INBOX_{role}",
        error_cb=violations.record,
        allow_reconnect=False,
    )


async def test_an_anonymous_or_wrong_password_connection_is_refused(servers: Stack) -> None:
    anonymous = servers.nats_url.split("@", 1)[1]
    for url in (f"nats://{anonymous}", servers.url_as(servers.nats_url, "worker") + "x"):
        with pytest.raises((nats.errors.Error, OSError)):
            await nats.connect(url, allow_reconnect=False, connect_timeout=2)


@pytest.mark.parametrize(
    "subject", [">", "_INBOX.>", "_INBOX_api.>", "$JS.API.>", subjects.REGISTRY_REGISTER_ALL]
)
async def test_worker_credentials_cannot_listen_beyond_their_subjects(
    servers: Stack, admin: Client, subject: str
) -> None:
    violations = Violations()
    worker = await connect_as(servers, "worker", violations)
    try:
        sent = subjects.registry_register("x") if "registry" in subject else "_INBOX_api.x"
        if subject == "$JS.API.>":
            sent = "$JS.API.INFO"
        assert await heard(worker, subject, admin, sent) == []
        assert violations.about(subject), violations.seen
    finally:
        await worker.close()


async def test_worker_credentials_cannot_read_old_events_or_forge_dispatches(
    servers: Stack, admin: Client
) -> None:
    violations = Violations()
    worker = await connect_as(servers, "worker", violations)
    try:
        stolen = subjects.run_events(uuid.uuid4().hex)
        with pytest.raises((nats.errors.Error, TimeoutError)):
            await worker.request(
                f"$JS.API.STREAM.MSG.GET.{subjects.EVENTS_STREAM}",
                b'{"last_by_subj": "%s"}' % stolen.encode(),
                timeout=1,
            )
        forged = subjects.worker_dispatch(DEFAULT_TEAM, "victim-worker")
        assert await heard(admin, forged, worker, forged) == []
        assert violations.about(f"$JS.API.STREAM.MSG.GET.{subjects.EVENTS_STREAM}")
        assert violations.about(forged), violations.seen
    finally:
        await worker.close()


async def test_the_api_cannot_listen_to_dispatches(servers: Stack, admin: Client) -> None:
    violations = Violations()
    api = await connect_as(servers, "api", violations)
    try:
        dispatch = subjects.worker_dispatch(DEFAULT_TEAM, "some-worker")
        assert await heard(api, dispatch, admin, dispatch) == []
        assert violations.about(dispatch), violations.seen
    finally:
        await api.close()


async def test_a_role_gets_answers_in_its_own_inbox(servers: Stack, admin: Client) -> None:
    """What the roles need still works: a worker answers a dispatch request, through
    allow_responses, into the scheduler's private inbox."""
    violations = Violations()
    worker = await connect_as(servers, "worker", violations)
    scheduler = await connect_as(servers, "scheduler", violations)
    try:
        dispatch = subjects.worker_dispatch(DEFAULT_TEAM, f"w-{uuid.uuid4().hex[:8]}")

        async def accept(msg: Msg) -> None:
            await msg.respond(b"accepted")

        await worker.subscribe(dispatch, cb=accept)
        await worker.flush()
        answer = await scheduler.request(dispatch, b"run", timeout=2)
        assert answer.data == b"accepted"
        assert violations.seen == []
    finally:
        await worker.close()
        await scheduler.close()


def redis_as(servers: Stack, role: Role) -> Redis:
    return Redis.from_url(servers.url_as(servers.redis_url, role))


async def test_redis_refuses_anonymous_writes_and_the_apis_forgeries(servers: Stack) -> None:
    thread, run = str(uuid.uuid4()), str(uuid.uuid4())
    anonymous = Redis.from_url("redis://" + servers.redis_url.split("@", 1)[1])
    api, bridge = redis_as(servers, "api"), redis_as(servers, "bridge")
    try:
        with pytest.raises((AuthenticationError, NoPermissionError, ResponseError)):
            await anonymous.xadd(run_stream_key(thread, run), {"event": "values"})
        with pytest.raises(NoPermissionError):
            await api.xadd(run_stream_key(thread, run), {"event": "__end__"})
        for dangerous in (api.flushall(), api.config_get("*"), api.keys("*")):
            with pytest.raises(NoPermissionError):
                await dangerous
        with pytest.raises(NoPermissionError):
            await bridge.flushall()
        # What each role is for still works.
        assert await bridge.xadd(run_stream_key(thread, run), {"event": "values"})
        assert len(await api.xrange(run_stream_key(thread, run)) or []) == 1
        assert await api.xadd(thread_stream_key(thread), {"event": "state_update"})
        await api.hset(tenant_run_bucket_key(f"t-{uuid.uuid4().hex[:6]}"), "tokens", 1)
    finally:
        for client in (anonymous, api, bridge):
            await client.aclose()


def test_the_credentials_are_the_owners_alone(servers: Stack) -> None:
    credentials = Path(servers.data_dir) / FILE_NAME
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    nats_config = Path(servers.data_dir) / "nats" / "nats.conf"
    assert stat.S_IMODE(nats_config.stat().st_mode) == 0o600
