"""``agentlist credentials``: secrets for a deployment's servers.

``env`` prints fresh secrets for Compose as the lines of an env file (Compose reads
``compose/.env``): every role's NATS, Redis and Postgres password
(:func:`agentlist.contracts.access.password_variable`; Postgres's ``admin`` is the owner's,
who migrates) and ``JWT_SECRET``. Writing a new file and restarting the services is how they
are rotated (the owner's Postgres password is kept by its volume: see docker-compose.yml).

``k8s`` prints the same secrets as a Kubernetes Secret, ``agentlist-credentials``, for the
manifests of compose/k8s (with the password of the routes between NATS servers); ``--trial``
adds ``agentlist-database``: a password for the trial's Postgres and each role's
``DATABASE_URL`` on it. Pipe it to ``kubectl apply -f -``: no file holds the secrets.

``worker --team T --graphs a,b`` gives a worker team credentials of its own on an
``agentlist dev`` data folder: NATS user ``worker-T``, which receives only that team's
dispatches and the state requests of its graphs, and which the registry lets register only
those graphs. A running stack takes the team at once (its NATS re-reads its users, its
registry the teams file); the file ``worker-T.env`` in the folder (mode 0600) holds the
``NATS_URL`` its workers join with. Running it again for the same team changes its graphs
and keeps its password; ``--rotate`` makes a new one. With ``--compose DIR`` it does the same
for the Compose deployment in ``DIR`` (:mod:`agentlist.launcher.compose_teams`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Final

from agentlist.contracts import subjects
from agentlist.contracts.access import (
    DEFAULT_TEAM,
    NATS_PERMISSIONS,
    POSTGRES_ROLES,
    REDIS_ROLES,
    password_variable,
    team_user,
)
from agentlist.launcher import compose_teams, datafolder
from agentlist.launcher.identities import Identities, new_secret, postgres_url_as, write_secret
from agentlist.launcher.servers import reload_nats_users, running_postgres_port


def env_lines() -> list[str]:
    lines = [f"{password_variable('nats', role)}={new_secret()}" for role in NATS_PERMISSIONS]
    lines += [f"{password_variable('redis', role)}={new_secret()}" for role in sorted(REDIS_ROLES)]
    lines += [
        f"{password_variable('postgres', role)}={new_secret()}"
        for role in ["admin", *POSTGRES_ROLES]
    ]
    lines.append(f"JWT_SECRET={new_secret()}")
    return lines


K8S_CREDENTIALS: Final = "agentlist-credentials"
"""The Secret of compose/k8s holding every role's NATS and Redis password and ``JWT_SECRET``."""
K8S_DATABASE: Final = "agentlist-database"
"""The Secret of compose/k8s holding each role's ``DATABASE_URL``, under the role's name."""
NATS_ROUTE_USER: Final = "route"
"""The user a NATS server of a cluster presents to the others on its routes."""
DATABASE_ROLES: Final = (*POSTGRES_ROLES, "migrate")
"""Who connects to Postgres: each service, and ``migrate``, the schema's owner."""
TRIAL_POSTGRES: Final = "postgresql://{user}:{password}@postgres:5432/agentlist"
"""The trial's Postgres (compose/k8s/trial/postgres.yaml), as ``user``."""


def k8s_manifest(*, trial: bool = False) -> dict[str, object]:
    """Fresh secrets as Kubernetes Secrets: :data:`K8S_CREDENTIALS`, and with ``trial`` the
    :data:`K8S_DATABASE` of the trial's Postgres."""
    credentials = dict(line.split("=", 1) for line in env_lines())
    credentials[password_variable("nats", NATS_ROUTE_USER)] = new_secret()
    # The owner's password is in the owner's DATABASE_URL (``migrate``), yours or the trial's.
    owner = credentials.pop(password_variable("postgres", "admin"))
    items = [_k8s_secret(K8S_CREDENTIALS, credentials)]
    if trial:
        # The owner (the trial's superuser) migrates; each service connects as its own role,
        # whose password the migrate Job sets from the credentials Secret.
        urls = {"migrate": TRIAL_POSTGRES.format(user="agentlist", password=owner)}
        for role, login in POSTGRES_ROLES.items():
            password = credentials[password_variable("postgres", role)]
            urls[role] = TRIAL_POSTGRES.format(user=login, password=password)
        items.append(_k8s_secret(K8S_DATABASE, {"POSTGRES_PASSWORD": owner, **urls}))
    return {"apiVersion": "v1", "kind": "List", "items": items}


def _k8s_secret(name: str, values: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "agentlist"}},
        "type": "Opaque",
        "stringData": values,
    }


def add_team(folder: Path, team: str, graphs: list[str], *, rotate: bool = False) -> list[str]:
    """Grant ``team`` ``graphs`` on the stack kept in ``folder``; returns what to tell the
    operator, one line each."""
    identities = Identities.load_or_create(folder)
    if rotate:
        identities = identities.without_password(team_user(team))
    identities = identities.with_team(folder, team, graphs)
    port = reload_nats_users(folder, identities)
    lines = [f"team {team} may serve: {', '.join(graphs)}"]
    if port is None:
        lines.append(
            f"the stack on {folder} is not running: its NATS admits {team_user(team)} when it"
            f" starts; run this again then for the URL"
        )
        return lines
    env = {"NATS_URL": identities.url_as_team(f"nats://127.0.0.1:{port}", team)}
    database_port = running_postgres_port(folder)
    if database_port is not None:
        owner = f"postgresql://127.0.0.1:{database_port}/postgres"
        env["DATABASE_URL"] = postgres_url_as(identities, owner, "worker")
    env_file = folder / f"{team_user(team)}.env"
    write_secret(env_file, "".join(f"{name}={value}\n" for name, value in env.items()))
    lines.append(f"its workers join with the variables in {env_file}:")
    lines += [f"  {name}={value}" for name, value in env.items()]
    return lines


def _team(value: str) -> str:
    try:
        team = subjects.token(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if team == DEFAULT_TEAM:
        raise argparse.ArgumentTypeError(f"{DEFAULT_TEAM!r} is the stack's own workers' team")
    return team


def _graphs(value: str) -> list[str]:
    graphs = [graph.strip() for graph in value.split(",") if graph.strip()]
    try:
        return [subjects.token(graph) for graph in graphs] or _none_given()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _none_given() -> list[str]:
    raise argparse.ArgumentTypeError("name at least one graph id")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentlist credentials",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("env", help="print an env file of fresh passwords for Compose")
    k8s = commands.add_parser(
        "k8s", help="print fresh passwords as a Kubernetes Secret for compose/k8s"
    )
    k8s.add_argument(
        "--trial", action="store_true", help="and the DATABASE_URLs of compose/k8s/trial"
    )
    worker = commands.add_parser(
        "worker", help="credentials for a worker team that serve only its graphs"
    )
    worker.add_argument("--team", type=_team, required=True, help="letters, digits, _ and -")
    worker.add_argument("--graphs", type=_graphs, required=True, help="graph ids: a,b")
    worker.add_argument("--rotate", action="store_true", help="give the team a new password")
    where = worker.add_mutually_exclusive_group()
    where.add_argument("--data-dir", type=Path, help="the stack's data folder")
    where.add_argument(
        "--config", type=Path, help="the langgraph.json whose .agentlist/ folder it is"
    )
    where.add_argument(
        "--compose", type=Path, metavar="DIR", help="the Compose deployment in DIR (compose/)"
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "env":
        sys.stdout.write("\n".join(env_lines()) + "\n")
        return
    if args.command == "k8s":
        sys.stdout.write(json.dumps(k8s_manifest(trial=args.trial), indent=2) + "\n")
        return
    if args.compose is not None:
        lines = compose_teams.add_team(args.compose, args.team, args.graphs, rotate=args.rotate)
        sys.stdout.write("\n".join(lines) + "\n")
        return
    folder = args.data_dir or datafolder.project_folder(args.config, Path.cwd())
    if not folder.is_dir():
        sys.stderr.write(f"agentlist credentials: {folder} is no stack's data folder\n")
        raise SystemExit(2)
    lines = add_team(folder, args.team, args.graphs, rotate=args.rotate)
    sys.stdout.write("\n".join(lines) + "\n")
