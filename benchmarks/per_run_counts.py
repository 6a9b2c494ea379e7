"""What one run costs in round trips: Postgres statements and transactions, NATS messages by
subject, Redis commands by type, counted by the servers themselves.

``.venv/bin/python benchmarks/per_run_counts.py [--runs 200] [--clients 1] [--json PATH]``

Starts the embedded stack (``agentlist dev``'s, identities on) with the benchmark graphs,
turns on ``pg_stat_statements`` (``ALTER SYSTEM`` and a restart of Postgres, which the
services ride through), warms up, then resets every counter and does ``--runs`` times what a
chat client does for a new conversation: create a thread, then ``runs.wait`` on the trivial
graph. The tables give each count divided by the runs:

* Postgres: transactions (``pg_stat_database``) and each statement's calls
  (``pg_stat_statements``; the SQL shortened), summed over every role;
* NATS: every message on the server (``/varz``), and by subject, with ids replaced by ``*``
  (an admin connection subscribed to ``>`` sees them; its own copies are not counted);
* Redis: calls per command (``INFO commandstats``).

A regression in any hop shows as a higher count here before it shows as CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import nats
from nats.aio.msg import Msg
from redis.asyncio import Redis

from agentlist.launcher import Stack, StackOptions
from agentlist.launcher.servers import NatsServer
from benchmarks import load, servers

logger = logging.getLogger("benchmarks")

GRAPH = "trivial"
WARMUP_RUNS = 20
STATS_FLUSH_SECONDS = 1.5
"""Backends report their statistics at most once a second."""

_IDS = re.compile(
    r"(?<=\.)(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})(?=\.|$)"
)
_INBOX = re.compile(r"^(_INBOX[^.]*)\..*$")
_ACK = re.compile(r"^\$JS\.ACK\..*$")
_WORKER = re.compile(r"^(agentlist\.v1\.workers\.[^.]+)\.[^.]+\.")


def subject_class(subject: str) -> str:
    """``subject`` with its run, worker and inbox ids as ``*``."""
    subject = _INBOX.sub(r"\1.*", subject)
    subject = _ACK.sub("$JS.ACK.*", subject)
    subject = _WORKER.sub(r"\1.*.", subject)
    return _IDS.sub("*", subject)


def shorten(sql: str, width: int = 90) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@dataclass
class Counts:
    runs: int
    transactions: int
    statements: list[tuple[str, int]]
    nats_messages: int
    nats_by_subject: dict[str, int]
    redis_by_command: dict[str, int]

    def per_run(self, value: int) -> float:
        return value / self.runs


async def enable_statement_counts(stack: Stack) -> None:
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        await conn.execute("ALTER SYSTEM SET pg_stat_statements.track = 'all'")
    finally:
        await conn.close()
    postgres = stack.servers["postgres"]
    postgres.stop()
    postgres.start()
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    finally:
        await conn.close()
    await asyncio.to_thread(stack.wait_for_graphs, {GRAPH})


async def one_conversation(sdk: Any) -> None:
    thread = await sdk.threads.create()
    await sdk.runs.wait(thread["thread_id"], GRAPH, input=load.INPUT)


async def drive(sdk: Any, runs: int, clients: int) -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(runs):
        queue.put_nowait(index)

    async def client() -> None:
        while not queue.empty():
            queue.get_nowait()
            await one_conversation(sdk)

    await asyncio.gather(*(client() for _ in range(clients)))


def nats_varz(stack: Stack) -> dict[str, Any]:
    server = stack.servers["nats"]
    assert isinstance(server, NatsServer)
    with urllib.request.urlopen(f"http://127.0.0.1:{server.monitor_port}/varz", timeout=5) as r:
        varz: dict[str, Any] = json.load(r)
    return varz


async def count(stack: Stack, runs: int, clients: int) -> Counts:
    sdk = load.make_client(stack.api_url)
    pg = await asyncpg.connect(stack.database_url)
    redis = Redis.from_url(stack.redis_url)
    tap = await nats.connect(stack.nats_url)
    seen: Counter[str] = Counter()

    async def tally(msg: Msg) -> None:
        seen[subject_class(msg.subject)] += 1

    try:
        for _ in range(WARMUP_RUNS):
            await one_conversation(sdk)
        await asyncio.sleep(STATS_FLUSH_SECONDS)
        await pg.execute("SELECT pg_stat_statements_reset()")
        await pg.execute("SELECT pg_stat_reset()")
        await redis.config_resetstat()
        subscription = await tap.subscribe(">", cb=tally)
        await tap.flush()
        before = nats_varz(stack)
        await drive(sdk, runs, clients)
        await asyncio.sleep(STATS_FLUSH_SECONDS)
        await tap.flush()
        after = nats_varz(stack)
        await subscription.unsubscribe()
        transactions = await pg.fetchval(
            "SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database"
        )
        statements = await pg.fetch(
            "SELECT query, sum(calls)::bigint AS calls FROM pg_stat_statements"
            " WHERE query NOT LIKE '%pg_stat%' GROUP BY query ORDER BY calls DESC"
        )
        commandstats = await redis.info("commandstats")
    finally:
        await tap.close()
        await redis.aclose()
        await pg.close()
        await sdk.aclose()
    # in_msgs: what clients published (the tap's copies are out_msgs, not counted).
    messages = after["in_msgs"] - before["in_msgs"]
    return Counts(
        runs=runs,
        transactions=int(transactions or 0),
        statements=[(shorten(row["query"]), int(row["calls"])) for row in statements],
        nats_messages=messages,
        nats_by_subject=dict(seen.most_common()),
        redis_by_command={
            name.removeprefix("cmdstat_"): int(stats["calls"])
            for name, stats in sorted(commandstats.items(), key=lambda kv: -kv[1]["calls"])
        },
    )


def report(counts: Counts) -> str:
    per = counts.per_run
    lines = [
        f"per run ({counts.runs} runs: a thread created, then runs.wait on {GRAPH!r})",
        "",
        f"Postgres transactions: {per(counts.transactions):.1f}",
        f"Postgres statements:   {per(sum(c for _, c in counts.statements)):.1f}",
    ]
    lines += [
        f"  {per(calls):6.2f}  {sql}" for sql, calls in counts.statements if per(calls) >= 0.05
    ]
    lines += [
        "",
        f"NATS messages from clients (/varz in_msgs): {per(counts.nats_messages):.1f}",
        "NATS messages by subject, as a '>' subscriber sees them (the server's own too):",
    ]
    lines += [f"  {per(n):6.2f}  {subject}" for subject, n in counts.nats_by_subject.items()]
    lines += ["", f"Redis commands: {per(sum(counts.redis_by_command.values())):.1f}"]
    lines += [f"  {per(n):6.2f}  {command}" for command, n in counts.redis_by_command.items()]
    return "\n".join(lines)


def measure(runs: int, clients: int) -> Counts:
    """Counts of ``runs`` runs on an embedded stack of their own."""
    options = StackOptions(graphs_config=servers.GRAPHS_CONFIG, api_port=0)
    started = time.monotonic()
    with Stack(options) as stack:
        asyncio.run(enable_statement_counts(stack))
        logger.info("stack ready in %.1fs", time.monotonic() - started)
        return asyncio.run(count(stack, runs, clients))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    counts = measure(args.runs, args.clients)
    print(report(counts))
    if args.json:
        args.json.write_text(json.dumps(counts.__dict__, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
