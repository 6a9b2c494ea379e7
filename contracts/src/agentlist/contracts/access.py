"""What each role of the mesh may do on the servers it shares: the one table of permissions.

The launcher renders it into the servers it starts, Compose repeats it (a test holds the two
equal), and an operator reads it to grant a new service its rights. A role is who a process
is, not where it runs: every API instance is ``api``, every worker of a team ``worker``.

**Redis** (ACL rules, Redis 7 / Valkey syntax, without the user's password): the bridge writes
run streams, their cursors and thread streams; the API reads them, writes only the thread
stream's ``state_update`` entries and the tenants' rate-limit buckets. No service user may run
a command of ``@dangerous`` (``FLUSHALL``, ``CONFIG``, ``KEYS``, ``DEBUG``...). Roles without a
line here (scheduler, registry, workers) have no Redis user at all.

**NATS** (per-user permissions in one account): each role publishes and subscribes to exactly
the subjects of :mod:`agentlist.contracts.subjects` its code uses. Replies go to a private inbox
prefix per role (``_INBOX_<role>``, from the user name), never ``_INBOX.>``; a role that answers
requests has ``allow_responses``, so it may publish to a requester's inbox only to answer it.
Only the scheduler and the bridge touch the JetStream API, and only for the run events stream
and the bridge's consumer; workers publish events and cannot read them back.

**Worker teams.** A team's workers share one user, ``worker-<team>``
(:func:`worker_permissions`): they receive only their team's dispatches and controls, answer
state requests only for the graphs granted to the team, and register and heartbeat only on
their team's subjects, which tell the registry who is asking. A team's worker pool (``agentlist
pool``) connects as its team's workers do and reports on its team's pool subject. The ``worker``
role is the stack's own team, :data:`DEFAULT_TEAM`, which may serve any graph.

**Postgres** (a login role per service, :data:`POSTGRES_ROLES`): the grants, the row-level
security policies and the few ``SECURITY DEFINER`` functions are in the migration that made the
roles (``agentlist.db`` ``migrations/0004_roles_and_rls.sql``) and, for LangGraph's own tables,
in ``agentlist.db.roles``; only the owner (``admin``) migrates. The API sees one tenant's rows
per transaction; the scheduler, bridge and registry rows of every tenant in the tables their
queries use; workers only LangGraph's checkpoints and store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from agentlist.contracts import subjects
from agentlist.contracts.streams import KEY_PREFIX

_RUN_KEYS: Final = f"{KEY_PREFIX}:{{*}}:run:*"
"""A run's stream and its cursor (``streams.run_stream_key``, ``streams.run_cursor_key``)."""
_THREAD_KEYS: Final = f"{KEY_PREFIX}:{{*}}:thread"
_TENANT_KEYS: Final = f"{KEY_PREFIX}:tenant:*"

# Commands first (none, then the categories the role's code uses, then never the dangerous
# ones), keys last: rules apply in order. Scripts run with their caller's rights, so the
# commands they call are in the list too (TIME, HMGET...).
_SERVICE_COMMANDS: Final = (
    "-@all +@read +@write +@stream +@scripting +@connection +@transaction +time -@dangerous"
)

REDIS_ACL: Final[dict[str, str]] = {
    "admin": "on ~* &* +@all",
    "api": (
        f"on resetkeys resetchannels {_SERVICE_COMMANDS}"
        f" %R~{_RUN_KEYS} ~{_THREAD_KEYS} ~{_TENANT_KEYS}"
    ),
    "bridge": (f"on resetkeys resetchannels {_SERVICE_COMMANDS} ~{_RUN_KEYS} ~{_THREAD_KEYS}"),
}
"""Per role: its ACL rules. The ``default`` user is off."""

REDIS_ROLES: Final = frozenset(REDIS_ACL)


def redis_user_arguments(password: Callable[[str], str]) -> list[str]:
    """The same users as server arguments (``--user <name> <rule>...``), each password as
    ``password(role)`` gives it: how Compose passes them, filling the passwords in."""
    arguments = ["--user", "default", "off", "resetkeys", "resetchannels", "-@all"]
    for role, rules in REDIS_ACL.items():
        arguments += ["--user", role, *rules.split(), f">{password(role)}"]
    return arguments


def redis_acl_lines(passwords: Mapping[str, str]) -> list[str]:
    """An ACL file: ``default`` off, then each role with its password (``>secret``)."""
    lines = ["user default off resetkeys resetchannels -@all"]
    for role, rules in REDIS_ACL.items():
        lines.append(f"user {role} {rules} >{passwords[role]}")
    return lines


INBOX_PREFIX: Final = "_INBOX"


def inbox_prefix(user: str | None) -> str:
    """Where ``user``'s replies arrive: a prefix no other role may subscribe to."""
    return f"{INBOX_PREFIX}_{user}" if user else INBOX_PREFIX


_JS: Final = "$JS.API"
_STREAM: Final = subjects.EVENTS_STREAM
_CONSUMER: Final = subjects.BRIDGE_CONSUMER
_WORKER_DISPATCH_ALL: Final = subjects.WORKER_DISPATCH.format(team="*", worker_id="*")
_WORKER_CONTROL_ALL: Final = subjects.WORKER_CONTROL.format(team="*", worker_id="*")
_GRAPH_STATE_ALL: Final = subjects.GRAPH_STATE.format(graph_id="*")
_MANAGE_EVENTS_STREAM: Final = (
    f"{_JS}.INFO",
    f"{_JS}.STREAM.CREATE.{_STREAM}",
    f"{_JS}.STREAM.UPDATE.{_STREAM}",
    f"{_JS}.STREAM.INFO.{_STREAM}",
)


def _inbox(role: str) -> str:
    return f"{inbox_prefix(role)}.>"


DEFAULT_TEAM: Final = "default"
"""The team of the ``worker`` role: the stack's own workers, allowed every graph."""
_TEAM_USER_PREFIX: Final = "worker-"


def team_user(team: str) -> str:
    """The NATS user the workers of ``team`` share."""
    return f"{_TEAM_USER_PREFIX}{subjects.token(team)}"


def team_of_user(user: str | None) -> str:
    """The team whose workers connect as ``user`` (any other user's is the default team)."""
    if user and user.startswith(_TEAM_USER_PREFIX) and len(user) > len(_TEAM_USER_PREFIX):
        return user.removeprefix(_TEAM_USER_PREFIX)
    return DEFAULT_TEAM


def worker_permissions(team: str, graphs: Sequence[str] | None) -> dict[str, object]:
    """The rights of ``team``'s workers: ``graphs`` they may serve, None for any graph.

    They publish their runs' events and outcomes (which the bridge accepts only under the
    attempt's lease token), registrations, heartbeats and their pool's reports on their
    team's subjects; they
    receive their team's dispatches and controls, the state requests of their graphs, cancels,
    and the replies to their own requests."""
    user = team_user(team) if team != DEFAULT_TEAM else "worker"
    states = (
        [subjects.graph_state(graph) for graph in graphs]
        if graphs is not None
        else [_GRAPH_STATE_ALL]
    )
    return {
        "publish": [
            subjects.RUN_EVENTS_ALL,
            subjects.registry_register(team),
            subjects.registry_heartbeat(team),
            subjects.registry_pool(team),
        ],
        "subscribe": [
            subjects.WORKER_DISPATCH.format(team=subjects.token(team), worker_id="*"),
            subjects.WORKER_CONTROL.format(team=subjects.token(team), worker_id="*"),
            *states,
            subjects.RUN_CANCEL_ALL,
            _inbox(user),
        ],
        "allow_responses": True,
    }


NATS_PERMISSIONS: Final[dict[str, dict[str, object]]] = {
    "admin": {"publish": [">"], "subscribe": [">"]},
    "api": {
        # Wake-ups, cancels, a cancelled run's fence and outcome, drains, thread state.
        "publish": [
            subjects.RUNS_REQUESTED,
            subjects.RUN_CANCEL_ALL,
            subjects.RUN_EVENTS_ALL,
            _WORKER_CONTROL_ALL,
            _GRAPH_STATE_ALL,
        ],
        "subscribe": [_inbox("api")],
    },
    "scheduler": {
        # Dispatches, fences and a finished run's outcome; whether an outcome is published.
        "publish": [
            _WORKER_DISPATCH_ALL,
            subjects.RUN_EVENTS_ALL,
            *_MANAGE_EVENTS_STREAM,
            f"{_JS}.STREAM.MSG.GET.{_STREAM}",
            f"{_JS}.DIRECT.GET.{_STREAM}",
            f"{_JS}.DIRECT.GET.{_STREAM}.>",
        ],
        "subscribe": [subjects.RUNS_REQUESTED, subjects.RUNS_RELEASED, _inbox("scheduler")],
    },
    "registry": {
        # Registrations, heartbeats and pool reports answered; workers pinged; a wake-up when
        # a worker known dead released its runs, so that the scheduler sweeps them at once.
        "publish": [_WORKER_CONTROL_ALL, subjects.RUNS_RELEASED],
        "subscribe": [
            subjects.REGISTRY_REGISTER_ALL,
            subjects.REGISTRY_HEARTBEAT_ALL,
            subjects.REGISTRY_POOL_ALL,
            _inbox("registry"),
        ],
        "allow_responses": True,
    },
    "bridge": {
        # The shared durable consumer of the events stream; wake-ups after an outcome.
        "publish": [
            subjects.RUNS_REQUESTED,
            *_MANAGE_EVENTS_STREAM,
            f"{_JS}.CONSUMER.CREATE.{_STREAM}.{_CONSUMER}",
            f"{_JS}.CONSUMER.CREATE.{_STREAM}.{_CONSUMER}.>",
            f"{_JS}.CONSUMER.DURABLE.CREATE.{_STREAM}.{_CONSUMER}",
            f"{_JS}.CONSUMER.INFO.{_STREAM}.{_CONSUMER}",
            f"{_JS}.CONSUMER.MSG.NEXT.{_STREAM}.{_CONSUMER}",
            f"$JS.ACK.{_STREAM}.{_CONSUMER}.>",
        ],
        "subscribe": [_inbox("bridge")],
    },
    "worker": worker_permissions(DEFAULT_TEAM, None),
}
"""Per role: the subjects it may publish to and subscribe to, and whether it answers requests."""


def nats_authorization(
    passwords: Mapping[str, str], teams: Mapping[str, Sequence[str]] | None = None
) -> str:
    """The ``authorization`` block of a nats-server config: one user per role, with its rights
    and its password, then one per worker team (``teams``: each team's graphs), whose
    password is ``passwords[team_user(team)]`` (JSON is valid in NATS's config format)."""
    return _nats_users(lambda user: json.dumps(passwords[user]), teams or {})


POSTGRES_ROLES: Final[dict[str, str]] = {
    "api": "agentlist_api",
    "scheduler": "agentlist_scheduler",
    "registry": "agentlist_registry",
    "bridge": "agentlist_bridge",
    "worker": "agentlist_worker",
}
"""Per service role: its Postgres login. ``admin`` is the owner, who migrates (``postgres``)."""


def password_variable(server: str, role: str) -> str:
    """The environment variable holding ``role``'s password on ``server`` (``nats``, ``redis``,
    ``postgres``) where a deployment passes them as variables (Compose)."""
    return f"{server.upper()}_{role.upper()}_PASSWORD"


def team_password_variable(team: str) -> str:
    """The environment variable holding the NATS password of ``team``'s workers where a
    deployment passes passwords as variables (``-`` is no character of a variable's name)."""
    return password_variable("nats", f"team_{subjects.token(team).replace('-', '_')}")


def nats_authorization_from_env(teams: Mapping[str, Sequence[str]] | None = None) -> str:
    """The same block reading each password from :func:`password_variable` (a team's from
    :func:`team_password_variable`) when nats-server starts: it refuses to start while one is
    missing."""

    def variable(user: str) -> str:
        if user in NATS_PERMISSIONS:
            return f"${password_variable('nats', user)}"
        return f"${team_password_variable(team_of_user(user))}"

    return _nats_users(variable, teams or {})


def _nats_users(password: Callable[[str], str], teams: Mapping[str, Sequence[str]]) -> str:
    users = dict(NATS_PERMISSIONS)
    users.update(
        {team_user(team): worker_permissions(team, graphs) for team, graphs in teams.items()}
    )
    lines = ["authorization {", '  "users": [']
    for role, rights in users.items():
        permissions: dict[str, object] = {
            "publish": {"allow": rights["publish"]},
            "subscribe": {"allow": rights["subscribe"]},
        }
        if rights.get("allow_responses"):
            permissions["allow_responses"] = True
        lines.append(
            f'    {{"user": "{role}", "password": {password(role)},'
            f' "permissions": {json.dumps(permissions)}}}'
        )
    lines += ["  ]", "}"]
    return "\n".join(lines)


TEAMS_FILE: Final = "teams.json"
"""The worker teams of a deployment and the graphs each may serve, as a JSON object
(``{"search": ["retriever", "ranker"]}``): written by ``agentlist credentials worker``, read
by the registry, rendered into NATS users. It holds no secret."""


def parse_teams(text: str) -> dict[str, list[str]]:
    """The teams of a :data:`TEAMS_FILE`; raises ``ValueError`` on anything else."""
    loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise ValueError("a teams file is a JSON object of team: [graph ids]")
    teams: dict[str, list[str]] = {}
    for team, graphs in loaded.items():
        if not isinstance(graphs, list) or not all(isinstance(g, str) for g in graphs):
            raise ValueError(f"team {team!r}: its graphs are a list of graph ids")
        teams[subjects.token(team)] = [subjects.token(graph) for graph in graphs]
    return teams
