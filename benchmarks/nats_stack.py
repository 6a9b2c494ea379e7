"""CPU per NATS request answered: raw nats-py against FastStream, in the same run.

``.venv/bin/python benchmarks/nats_stack.py [--count 5000] [--rounds 3] [--json PATH]``

Starts a loopback nats-server through the launcher, then, for each stack in turn, a responder
process that answers ``Heartbeat`` requests with a ``HeartbeatReply`` (the registry's hottest
request/reply pair):

* ``raw``: :func:`agentlist.core.nats.serve_requests`, what the mesh uses;
* ``faststream``: a FastStream ``NatsBroker`` with a typed ``@broker.subscriber`` handler.

This process sends the requests (a fixed number in flight) and asks the responder for its own
CPU time (``time.process_time``, user + system, every thread) right before the first measured
request and right after the last reply, so start-up, imports and warm-up are not counted. The
stacks alternate for several rounds; the table gives each one's median microseconds of
responder CPU per request and the ratio FastStream / raw.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final, Literal, get_args

from faststream.nats import NatsBroker
from nats.aio.client import Client

from agentlist.contracts import Heartbeat, HeartbeatReply, HeldRun
from agentlist.core.nats import connect, serve_requests
from agentlist.launcher.identities import Identities
from agentlist.launcher.servers import NatsServer

Stack = Literal["raw", "faststream"]
STACKS: Final[tuple[Stack, ...]] = get_args(Stack)
LABELS: Final[dict[Stack, str]] = {"raw": "raw nats-py", "faststream": "FastStream"}

SUBJECT: Final = "bench.workers.heartbeat"
QUEUE: Final = "bench-registry"
WARMUP: Final = 500
"""Requests answered before measuring, so that lazy imports and caches are behind us."""
REQUEST_TIMEOUT: Final = 5.0
SCRIPT: Final = str(Path(__file__).resolve())
CHILD_EXIT_TIMEOUT: Final = 10.0

REQUEST: Final = Heartbeat(
    worker_id="worker-bench-1",
    capacity=4,
    runs=[HeldRun(run_id=f"run-{i}", attempt=1) for i in range(2)],
)
REPLY: Final = HeartbeatReply(known=True)


# -- the responder (a child process of this script) ------------------------------------------


async def answer(beat: Heartbeat) -> HeartbeatReply:
    return REPLY


async def answer_on(beat: Heartbeat, _subject: str) -> HeartbeatReply:
    return REPLY


def report_cpu_on_request(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Each line on stdin is answered with this process's CPU seconds; end of input stops it.
    A thread blocked on a read costs no CPU, so it does not blur what it measures."""
    for _ in sys.stdin:
        sys.stdout.write(f"{time.process_time()!r}\n")
        sys.stdout.flush()
    loop.call_soon_threadsafe(stop.set)


async def serve_raw(url: str, stop: asyncio.Event) -> None:
    nc = await connect(url, "bench-raw")
    await serve_requests(nc, SUBJECT, Heartbeat, answer_on, queue=QUEUE)
    await nc.flush()
    await serve_until(stop)
    await nc.drain()


async def serve_faststream(url: str, stop: asyncio.Event) -> None:
    # No logger: FastStream would otherwise log every message, which serve_requests does not do.
    broker = NatsBroker(url, logger=None)
    broker.subscriber(SUBJECT, queue=QUEUE)(answer)
    await broker.start()
    await broker.connection.flush()
    await serve_until(stop)
    await broker.stop()


async def serve_until(stop: asyncio.Event) -> None:
    print("ready", flush=True)
    await stop.wait()


async def responder(stack: Stack, url: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    threading.Thread(target=report_cpu_on_request, args=(loop, stop), daemon=True).start()
    serve = serve_raw if stack == "raw" else serve_faststream
    await serve(url, stop)


# -- the client (this process) ---------------------------------------------------------------


async def send(nc: Client, count: int, in_flight: int) -> None:
    """``count`` requests, ``in_flight`` at a time; every reply must read as a HeartbeatReply."""
    payload = REQUEST.model_dump_json().encode()

    async def sender(share: int) -> None:
        for _ in range(share):
            msg = await nc.request(SUBJECT, payload, timeout=REQUEST_TIMEOUT)
            HeartbeatReply.model_validate_json(msg.data)

    shares = [count // in_flight + (i < count % in_flight) for i in range(in_flight)]
    await asyncio.gather(*(sender(share) for share in shares if share))


async def read_line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
    if not line:
        raise RuntimeError(f"the responder (pid {process.pid}) exited with {process.returncode}")
    return line.decode().strip()


async def responder_cpu(process: asyncio.subprocess.Process) -> float:
    assert process.stdin is not None
    process.stdin.write(b"cpu\n")
    await process.stdin.drain()
    return float(await read_line(process))


async def stop_responder(process: asyncio.subprocess.Process) -> None:
    """End of input asks it to drain and exit; one that does not is killed, by its PID."""
    if process.stdin is not None:
        process.stdin.close()
    try:
        await asyncio.wait_for(process.wait(), timeout=CHILD_EXIT_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


@dataclass(frozen=True)
class Trial:
    stack: Stack
    cpu_us_per_msg: float
    msgs_per_second: float


async def trial(nc: Client, stack: Stack, url: str, count: int, in_flight: int) -> Trial:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        SCRIPT,
        "--serve",
        stack,
        "--url",
        url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        if (line := await read_line(process)) != "ready":
            raise RuntimeError(f"the {stack} responder said {line!r}, not 'ready'")
        await send(nc, WARMUP, in_flight)
        cpu_before = await responder_cpu(process)
        started = time.perf_counter()
        await send(nc, count, in_flight)
        elapsed = time.perf_counter() - started
        cpu_after = await responder_cpu(process)
    finally:
        await stop_responder(process)
    return Trial(stack, (cpu_after - cpu_before) / count * 1e6, count / elapsed)


@dataclass(frozen=True)
class Summary:
    stack: Stack
    median_cpu_us_per_msg: float
    median_msgs_per_second: float
    cpu_us_per_msg: list[float]


def summarize(trials: Sequence[Trial], stack: Stack) -> Summary:
    mine = [t for t in trials if t.stack == stack]
    return Summary(
        stack,
        statistics.median(t.cpu_us_per_msg for t in mine),
        statistics.median(t.msgs_per_second for t in mine),
        [round(t.cpu_us_per_msg, 1) for t in mine],
    )


async def measure(url: str, count: int, rounds: int, in_flight: int) -> list[Trial]:
    """Every round runs both stacks, the first one alternating, so that a busier moment of a
    shared machine does not always fall on the same stack."""
    nc = await connect(url, "bench-client")
    trials: list[Trial] = []
    try:
        for number in range(rounds):
            order = STACKS if number % 2 == 0 else STACKS[::-1]
            for stack in order:
                trials.append(await trial(nc, stack, url, count, in_flight))
    finally:
        await nc.drain()
    return trials


def table(summaries: Sequence[Summary], ratio: float, count: int, in_flight: int) -> str:
    lines = [
        f"NATS request/reply: responder CPU per request ({count} requests, {in_flight} in flight)",
        f"{'stack':<14}{'µs/msg (median)':>17}{'req/s':>9}  µs/msg per round",
    ]
    for s in summaries:
        rounds = " ".join(f"{value:.1f}" for value in s.cpu_us_per_msg)
        lines.append(
            f"{LABELS[s.stack]:<14}{s.median_cpu_us_per_msg:>17.1f}"
            f"{s.median_msgs_per_second:>9.0f}  {rounds}"
        )
    lines.append(f"FastStream / raw: {ratio:.2f}x")
    return "\n".join(lines)


def versions() -> dict[str, str]:
    names = ("nats-py", "faststream", "pydantic")
    return {name: importlib.metadata.version(name) for name in names}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=5000, help="measured requests per trial")
    parser.add_argument("--rounds", type=int, default=3, help="trials of each stack")
    parser.add_argument("--in-flight", type=int, default=16, help="concurrent requests")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--serve", choices=STACKS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.count < 1 or args.rounds < 1 or args.in_flight < 1:
        parser.error("--count, --rounds and --in-flight must be at least 1")
    return args


def main(argv: Sequence[str]) -> None:
    args = parse_args(argv)
    if args.serve is not None:
        asyncio.run(responder(args.serve, args.url))
        return
    with tempfile.TemporaryDirectory(prefix="nats-stack-") as root:
        server = NatsServer(Path(root), Identities.load_or_create(Path(root)))
        server.start()
        try:
            trials = asyncio.run(measure(server.url, args.count, args.rounds, args.in_flight))
        finally:
            server.stop()
    summaries = [summarize(trials, stack) for stack in STACKS]
    by_stack = {s.stack: s for s in summaries}
    ratio = by_stack["faststream"].median_cpu_us_per_msg / by_stack["raw"].median_cpu_us_per_msg
    print(table(summaries, ratio, args.count, args.in_flight))
    if args.json is not None:
        results = {
            "count": args.count,
            "rounds": args.rounds,
            "in_flight": args.in_flight,
            "versions": versions(),
            "stacks": {s.stack: asdict(s) for s in summaries},
            "ratio_faststream_to_raw": round(ratio, 3),
        }
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
