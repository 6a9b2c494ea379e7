"""Every NATS subject, queue group, stream and consumer name of the mesh.

Nothing outside this module spells a subject. Each template carries the protocol version; a
breaking change adds a ``v2`` subject beside the ``v1`` one instead of editing it.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

VERSION: Final = "v1"
PREFIX: Final = f"agentlist.{VERSION}"

# Templates (FastStream-style ``{placeholders}``) and their builders.
RUNS_REQUESTED: Final = f"{PREFIX}.runs.requested"
# A worker known dead released its runs' leases: the schedulers sweep them now instead of at
# their next pass. Apart from ``runs.requested``, so that a new run costs no sweep.
RUNS_RELEASED: Final = f"{PREFIX}.runs.released"
RUN_EVENTS: Final = f"{PREFIX}.runs.{{run_id}}.events"
RUN_CANCEL: Final = f"{PREFIX}.runs.{{run_id}}.cancel"
# A worker's subjects and its registry requests name its team, so that NATS can confine a
# team's credentials to its own workers (see ``access``); the registry reads the team from the
# subject a registration arrived on, never from the message.
WORKER_DISPATCH: Final = f"{PREFIX}.workers.{{team}}.{{worker_id}}.dispatch"
WORKER_CONTROL: Final = f"{PREFIX}.workers.{{team}}.{{worker_id}}.control"
REGISTRY_REGISTER: Final = f"{PREFIX}.registry.register.{{team}}"
REGISTRY_HEARTBEAT: Final = f"{PREFIX}.registry.heartbeat.{{team}}"
# A worker pool's report of what it runs and wants, and of the workers it saw die; answered
# with the load of its graphs. It is sent with the team's credentials, like its workers'.
REGISTRY_POOL: Final = f"{PREFIX}.registry.pool.{{team}}"
GRAPH_STATE: Final = f"{PREFIX}.graphs.{{graph_id}}.state"

# Wildcards used by subscribers and by the JetStream stream definition.
RUN_EVENTS_ALL: Final = f"{PREFIX}.runs.*.events"
RUN_CANCEL_ALL: Final = f"{PREFIX}.runs.*.cancel"
REGISTRY_REGISTER_ALL: Final = REGISTRY_REGISTER.format(team="*")
REGISTRY_HEARTBEAT_ALL: Final = REGISTRY_HEARTBEAT.format(team="*")
REGISTRY_POOL_ALL: Final = REGISTRY_POOL.format(team="*")

NATS_SERVER_FLOOR: Final = "2.10.0"
"""The oldest nats-server the mesh runs on (per-user ``allow_responses``, JetStream direct
gets and the stream settings it asks for); every client refuses an older one."""

MSG_ID_DIGEST_CHARS: Final = 16
"""Hex characters of the lease token's SHA-256 that end a run message's ``Nats-Msg-Id``."""

# JetStream: run events and outcomes, shared by every bridge through one durable consumer.
EVENTS_STREAM: Final = "AGENTLIST_RUN_EVENTS_V1"
BRIDGE_CONSUMER: Final = "agentlist-bridge-v1"

# Queue groups: one member of the group answers each request.
REGISTRY_QUEUE: Final = "agentlist-registry-v1"
SCHEDULER_QUEUE: Final = "agentlist-scheduler-v1"
GRAPH_STATE_QUEUE: Final = f"agentlist-graph-state-{VERSION}"

_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


def token(value: str) -> str:
    """Return ``value`` if it can stand as one subject token, else raise ``ValueError``.

    Graph ids and worker ids become subject tokens; dots, wildcards and spaces would change
    which subscribers a subject reaches.
    """
    if not _TOKEN.fullmatch(value):
        raise ValueError(f"{value!r} cannot be a NATS subject token: use letters, digits, _ and -")
    return value


def run_events(run_id: str) -> str:
    return RUN_EVENTS.format(run_id=token(run_id))


def run_cancel(run_id: str) -> str:
    return RUN_CANCEL.format(run_id=token(run_id))


def worker_dispatch(team: str, worker_id: str) -> str:
    return WORKER_DISPATCH.format(team=token(team), worker_id=token(worker_id))


def worker_control(team: str, worker_id: str) -> str:
    return WORKER_CONTROL.format(team=token(team), worker_id=token(worker_id))


def registry_register(team: str) -> str:
    return REGISTRY_REGISTER.format(team=token(team))


def registry_heartbeat(team: str) -> str:
    return REGISTRY_HEARTBEAT.format(team=token(team))


def registry_pool(team: str) -> str:
    return REGISTRY_POOL.format(team=token(team))


def team_of(subject: str) -> str:
    """The team a registry request was sent by: the last token of its subject."""
    return subject.rsplit(".", 1)[-1]


def graph_state(graph_id: str) -> str:
    return GRAPH_STATE.format(graph_id=token(graph_id))


def event_msg_id(run_id: str, attempt: int, seq: int, token: str | None) -> str:
    """The ``Nats-Msg-Id`` of one run message: JetStream drops a republished duplicate.

    It ends with a digest of the attempt's lease token (``token``), so that no one who lacks
    the token can publish first under the id of a message to come and have JetStream drop the
    real one as its duplicate. The digest does not give the token away.
    """
    if not token:
        return f"{run_id}:{attempt}:{seq}"
    digest = hashlib.sha256(token.encode()).hexdigest()[:MSG_ID_DIGEST_CHARS]
    return f"{run_id}:{attempt}:{seq}:{digest}"


def all_names() -> dict[str, str]:
    """Every exported name, for ``subjects.json`` (and the TypeScript worker built from it)."""
    return {
        "VERSION": VERSION,
        "NATS_SERVER_FLOOR": NATS_SERVER_FLOOR,
        "PREFIX": PREFIX,
        "RUNS_REQUESTED": RUNS_REQUESTED,
        "RUNS_RELEASED": RUNS_RELEASED,
        "RUN_EVENTS": RUN_EVENTS,
        "RUN_CANCEL": RUN_CANCEL,
        "WORKER_DISPATCH": WORKER_DISPATCH,
        "WORKER_CONTROL": WORKER_CONTROL,
        "REGISTRY_REGISTER": REGISTRY_REGISTER,
        "REGISTRY_HEARTBEAT": REGISTRY_HEARTBEAT,
        "REGISTRY_POOL": REGISTRY_POOL,
        "GRAPH_STATE": GRAPH_STATE,
        "RUN_EVENTS_ALL": RUN_EVENTS_ALL,
        "RUN_CANCEL_ALL": RUN_CANCEL_ALL,
        "REGISTRY_REGISTER_ALL": REGISTRY_REGISTER_ALL,
        "REGISTRY_HEARTBEAT_ALL": REGISTRY_HEARTBEAT_ALL,
        "REGISTRY_POOL_ALL": REGISTRY_POOL_ALL,
        "EVENTS_STREAM": EVENTS_STREAM,
        "BRIDGE_CONSUMER": BRIDGE_CONSUMER,
        "REGISTRY_QUEUE": REGISTRY_QUEUE,
        "SCHEDULER_QUEUE": SCHEDULER_QUEUE,
        "GRAPH_STATE_QUEUE": GRAPH_STATE_QUEUE,
    }
