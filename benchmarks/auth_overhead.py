"""What authentication costs per request: the API's own CPU and latency in each mode, same run.

``.venv/bin/python benchmarks/auth_overhead.py [--count 3000] [--rounds 3] [--in-flight 16]
[--json PATH]``

Starts loopback Postgres, NATS and Redis through the launcher, then one API process per mode
(nothing else of the mesh: the request measured needs only Postgres):

* ``open``: no authentication, the default of a loopback server;
* ``jwt-hs256``: ``AUTH_ENABLED=true`` with ``JWT_SECRET``; HS256 bearer tokens;
* ``jwt-rs256``: ``AUTH_ENABLED=true`` with a JWKS served by this script on loopback; RS256
  bearer tokens (2048-bit RSA);
* ``api-key``: ``AUTH_ENABLED=true``; a key from ``agentlist keys create`` as ``x-api-key``,
  with the default lookup cache (``AGENTLIST_API_API_KEY_CACHE_SECONDS``);
* ``custom``: a ``langgraph.json`` naming a langgraph_sdk ``Auth`` with a static-token
  ``@auth.authenticate`` and an ``@auth.on`` owner filter.

Each mode's caller creates one thread, then sends ``GET /threads/{id}`` (a warm-up, then the
measured requests, a fixed number in flight over one keep-alive client). The API process's
CPU (user + system from ``/proc/<pid>/stat``) is read right before the first measured request
and right after the last reply. The modes alternate for several rounds; the table gives each
one's median microseconds of API CPU per request, requests per second, latency percentiles and
the ratio to ``open``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final, Literal, get_args

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from agentlist.launcher import Stack, StackOptions
from agentlist.launcher.process import free_port, wait_until

Mode = Literal["open", "jwt-hs256", "jwt-rs256", "api-key", "custom"]
MODES: Final[tuple[Mode, ...]] = get_args(Mode)

WARMUP: Final = 300
"""Requests answered before measuring, so that lazy imports, caches and connections are
behind us."""
REQUEST_TIMEOUT: Final = 10.0
API_START_TIMEOUT: Final = 60.0
TENANT: Final = "bench"
SUBJECT: Final = "bench-user"
ISSUER: Final = "https://issuer.bench.invalid"
AUDIENCE: Final = "agentlist-bench"
KID: Final = "bench-rsa-1"
TOKEN_LIFETIME: Final = 3600
CUSTOM_TOKEN: Final = "bench-static-token"
_TICKS: Final = os.sysconf("SC_CLK_TCK")

GRAPH_SOURCE: Final = '''"""A graph for the config to name: the benchmark never runs it."""

from typing import TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict):
    value: int


def step(state: State) -> State:
    return {"value": state["value"] + 1}


builder = StateGraph(State)
builder.add_node("step", step)
builder.add_edge(START, "step")
builder.add_edge("step", END)
graph = builder.compile()
'''

AUTH_SOURCE: Final = f'''"""One static bearer token, and the owner pattern on every resource."""

from typing import Any

from langgraph_sdk import Auth

auth = Auth()


@auth.authenticate
async def authenticate(authorization: str | None) -> Auth.types.MinimalUserDict:
    if authorization != "Bearer {CUSTOM_TOKEN}":
        raise Auth.exceptions.HTTPException(status_code=401, detail="Unknown token")
    return {{"identity": "{SUBJECT}", "permissions": []}}


@auth.on
async def owner_only(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> dict[str, str]:
    metadata = value.get("metadata")
    if isinstance(metadata, dict):
        metadata["owner"] = ctx.user.identity
    return {{"owner": ctx.user.identity}}
'''


# -- what each mode's API is started with, and what its caller sends -------------------------


@dataclass(frozen=True)
class Configs:
    plain: Path
    custom: Path


def write_project(folder: Path) -> Configs:
    """A graph, an ``Auth`` and two ``langgraph.json``: one without auth, one naming it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "graph.py").write_text(GRAPH_SOURCE)
    (folder / "auth.py").write_text(AUTH_SOURCE)
    graphs = {"dependencies": ["."], "graphs": {"bench": "./graph.py:graph"}}
    plain = folder / "langgraph.json"
    plain.write_text(json.dumps(graphs, indent=2))
    custom = folder / "langgraph-custom.json"
    custom.write_text(json.dumps({**graphs, "auth": {"path": "./auth.py:auth"}}, indent=2))
    return Configs(plain, custom)


@dataclass(frozen=True)
class Signer:
    """An identity provider: an HS256 secret and an RSA key published as a JWKS."""

    secret: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def new(cls) -> Signer:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(secret=os.urandom(32).hex(), private_key=key)

    def jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": KID, "alg": "RS256", "use": "sig"}]}

    def claims(self) -> dict[str, Any]:
        now = int(time.time())
        return {
            "sub": SUBJECT,
            "tenant": TENANT,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + TOKEN_LIFETIME,
        }

    def hs256(self) -> str:
        return jwt.encode(self.claims(), self.secret, algorithm="HS256")

    def rs256(self) -> str:
        return jwt.encode(self.claims(), self.private_key, algorithm="RS256", headers={"kid": KID})


@contextmanager
def serving_jwks(jwks: dict[str, Any]) -> Iterator[str]:
    """``jwks`` over HTTP on loopback, from a thread of this process; yields its URL."""
    body = json.dumps(jwks).encode()

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


def create_api_key(database_url: str) -> str:
    """A key for :data:`TENANT`, made the way an operator does: ``agentlist keys create``."""
    completed = subprocess.run(
        [sys.executable, "-m", "agentlist.cli", "keys", "create", "--tenant", TENANT],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        check=True,
        timeout=60,
    )
    key: str = json.loads(completed.stdout)["api_key"]
    return key


@dataclass(frozen=True)
class Setup:
    env: dict[str, str]
    """The API's environment for this mode, over the stack's."""
    headers: dict[str, str]
    """What the caller sends with every request."""


def setups(configs: Configs, signer: Signer, jwks_url: str, api_key: str) -> dict[Mode, Setup]:
    plain = {"HOST": "127.0.0.1", "AGENTLIST_GRAPHS_CONFIG": str(configs.plain)}
    builtin = {
        **plain,
        "AUTH_ENABLED": "true",
        "AGENTLIST_API_JWT_ISSUER": ISSUER,
        "AGENTLIST_API_JWT_AUDIENCE": AUDIENCE,
    }
    return {
        "open": Setup({**plain, "AUTH_ENABLED": "false"}, {}),
        "jwt-hs256": Setup({**builtin, "JWT_SECRET": signer.secret}, bearer(signer.hs256())),
        "jwt-rs256": Setup({**builtin, "AGENTLIST_API_JWKS_URL": jwks_url}, bearer(signer.rs256())),
        # A JWT setting is needed to enable built-in auth at all; the key is what is sent.
        "api-key": Setup({**builtin, "JWT_SECRET": signer.secret}, {"x-api-key": api_key}),
        "custom": Setup(
            {"HOST": "127.0.0.1", "AGENTLIST_GRAPHS_CONFIG": str(configs.custom)},
            bearer(CUSTOM_TOKEN),
        ),
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Api:
    mode: Mode
    url: str
    pid: int
    headers: dict[str, str]


def start_api(stack: Stack, mode: Mode, setup: Setup) -> Api:
    port = free_port()
    child = stack.start_service("api", ["--port", str(port)], name=f"api-{mode}", env=setup.env)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: answers(url), timeout=API_START_TIMEOUT, what=f"api-{mode}", child=child)
    return Api(mode, url, child.pid, setup.headers)


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/ok", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


# -- measuring ---------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process, every thread."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def shares(count: int, in_flight: int) -> list[int]:
    """``count`` split as evenly as can be over ``in_flight`` senders (none left empty)."""
    split = [count // in_flight + (i < count % in_flight) for i in range(in_flight)]
    return [share for share in split if share]


async def create_thread(client: httpx.AsyncClient) -> str:
    response = await client.post("/threads", json={})
    response.raise_for_status()
    thread_id: str = response.json()["thread_id"]
    return f"/threads/{thread_id}"


async def send(client: httpx.AsyncClient, path: str, count: int, in_flight: int) -> list[float]:
    """``count`` GETs, ``in_flight`` at a time; every one must succeed. Latencies in ms."""
    latencies: list[float] = []

    async def sender(share: int) -> None:
        for _ in range(share):
            started = time.perf_counter()
            response = await client.get(path)
            latencies.append((time.perf_counter() - started) * 1e3)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text}")

    await asyncio.gather(*(sender(share) for share in shares(count, in_flight)))
    return latencies


@dataclass(frozen=True)
class Trial:
    mode: Mode
    cpu_us_per_request: float
    requests_per_second: float
    p50_ms: float
    p90_ms: float


def client_for(api: Api, in_flight: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    return httpx.AsyncClient(
        base_url=api.url, headers=api.headers, limits=limits, timeout=REQUEST_TIMEOUT
    )


async def trial(api: Api, path: str, count: int, in_flight: int) -> Trial:
    async with client_for(api, in_flight) as client:
        await send(client, path, WARMUP, in_flight)
        cpu_before = cpu_seconds(api.pid)
        started = time.perf_counter()
        latencies = await send(client, path, count, in_flight)
        elapsed = time.perf_counter() - started
        cpu_after = cpu_seconds(api.pid)
    deciles = statistics.quantiles(latencies, n=10)
    cpu_us = (cpu_after - cpu_before) / count * 1e6
    return Trial(api.mode, cpu_us, count / elapsed, deciles[4], deciles[8])


async def measure(apis: Sequence[Api], count: int, rounds: int, in_flight: int) -> list[Trial]:
    """Every round runs every mode, the order reversed every other round, so that a busier
    moment of a shared machine does not always fall on the same mode."""
    paths: dict[Mode, str] = {}
    for api in apis:
        async with client_for(api, in_flight) as client:
            paths[api.mode] = await create_thread(client)
    trials: list[Trial] = []
    for number in range(rounds):
        order = apis if number % 2 == 0 else apis[::-1]
        for api in order:
            trials.append(await trial(api, paths[api.mode], count, in_flight))
    return trials


@dataclass(frozen=True)
class Summary:
    mode: Mode
    median_cpu_us_per_request: float
    median_requests_per_second: float
    median_p50_ms: float
    median_p90_ms: float
    cpu_us_per_request: list[float]


def summarize(trials: Sequence[Trial], mode: Mode) -> Summary:
    mine = [t for t in trials if t.mode == mode]
    return Summary(
        mode,
        statistics.median(t.cpu_us_per_request for t in mine),
        statistics.median(t.requests_per_second for t in mine),
        statistics.median(t.p50_ms for t in mine),
        statistics.median(t.p90_ms for t in mine),
        [round(t.cpu_us_per_request, 1) for t in mine],
    )


def ratios(summaries: Sequence[Summary]) -> dict[Mode, float]:
    """Each mode's median CPU per request over ``open``'s."""
    base = next(s for s in summaries if s.mode == "open").median_cpu_us_per_request
    return {s.mode: s.median_cpu_us_per_request / base for s in summaries}


def table(summaries: Sequence[Summary], count: int, in_flight: int) -> str:
    to_open = ratios(summaries)
    lines = [
        f"GET /threads/{{id}}: API CPU and latency per request by auth mode"
        f" ({count} requests, {in_flight} in flight)",
        f"{'mode':<11}{'µs/req (median)':>16}{'/ open':>8}{'req/s':>8}{'p50 ms':>8}"
        f"{'p90 ms':>8}  µs/req per round",
    ]
    for s in summaries:
        rounds = " ".join(f"{value:.1f}" for value in s.cpu_us_per_request)
        lines.append(
            f"{s.mode:<11}{s.median_cpu_us_per_request:>16.1f}{to_open[s.mode]:>8.2f}"
            f"{s.median_requests_per_second:>8.0f}{s.median_p50_ms:>8.2f}"
            f"{s.median_p90_ms:>8.2f}  {rounds}"
        )
    return "\n".join(lines)


def versions() -> dict[str, str]:
    names = ("pyjwt", "cryptography", "langgraph-sdk", "fastapi", "uvicorn", "asyncpg", "httpx")
    return {name: importlib.metadata.version(name) for name in names}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=3000, help="measured requests per trial")
    parser.add_argument("--rounds", type=int, default=3, help="trials of each mode")
    parser.add_argument("--in-flight", type=int, default=16, help="concurrent requests")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.count < 1 or args.rounds < 1 or args.in_flight < 1:
        parser.error("--count, --rounds and --in-flight must be at least 1")
    return args


def run(count: int, rounds: int, in_flight: int) -> list[Trial]:
    """Servers, then one API per mode; all stopped (by PID) however it ends."""
    with tempfile.TemporaryDirectory(prefix="auth-overhead-") as root:
        configs = write_project(Path(root) / "project")
        logs = Path(root) / "logs"
        logs.mkdir()
        stack = Stack(StackOptions(graphs_config=configs.plain, api_port=0, log_dir=logs))
        signer = Signer.new()
        try:
            stack.start_servers()
            with serving_jwks(signer.jwks()) as jwks_url:
                api_key = create_api_key(stack.database_url)
                by_mode = setups(configs, signer, jwks_url, api_key)
                apis = [start_api(stack, mode, by_mode[mode]) for mode in MODES]
                return asyncio.run(measure(apis, count, rounds, in_flight))
        finally:
            stack.stop()


def main(argv: Sequence[str]) -> None:
    args = parse_args(argv)
    trials = run(args.count, args.rounds, args.in_flight)
    summaries = [summarize(trials, mode) for mode in MODES]
    print(table(summaries, args.count, args.in_flight))
    if args.json is not None:
        results = {
            "count": args.count,
            "rounds": args.rounds,
            "in_flight": args.in_flight,
            "warmup": WARMUP,
            "versions": versions(),
            "modes": {s.mode: asdict(s) for s in summaries},
            "ratio_to_open": {mode: round(value, 3) for mode, value in ratios(summaries).items()},
        }
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
