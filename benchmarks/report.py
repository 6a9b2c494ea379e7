"""The benchmark's figures: summaries of samples, targets, and the Markdown report.

Pure (no servers, no clock) so that a unit test can check it on canned numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

SYSTEMS = ("agentlist", "reference")
SystemName = Literal["agentlist", "reference"]

SLEEP_SECONDS = 0.2
"""How long the sleepy graph's node waits: the ceiling of a closed loop is clients / this."""


def percentile(samples: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile (``fraction`` in 0..1); ``None`` without samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class Latencies:
    """Milliseconds."""

    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latencies:
        millis = [s * 1000 for s in seconds]
        return cls(
            count=len(millis),
            p50=percentile(millis, 0.50),
            p95=percentile(millis, 0.95),
            p99=percentile(millis, 0.99),
            max=max(millis) if millis else None,
        )


@dataclass(frozen=True)
class Measurement:
    """One scenario against one system."""

    runs: int
    """Runs that finished inside the measured window."""
    errors: int
    """Runs that failed or answered something other than the graph's result."""
    seconds: float
    """Length of the measured window."""
    latency: Latencies
    first_event: Latencies | None = None
    """``runs.stream`` only: until the first SSE event (``metadata``)."""
    first_values: Latencies | None = None
    """``runs.stream`` only: until the first ``values`` event (the graph's input state)."""
    client_cpu_seconds: float = 0.0
    """CPU the load generator spent (it shares the machine with the servers)."""
    server_cpu_seconds: Mapping[str, float] = field(default_factory=dict)
    """CPU each of the system's processes (grouped by role) spent during the scenario."""

    @property
    def runs_per_second(self) -> float:
        return self.runs / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    kind: Literal["wait", "stream", "burst"]
    graph: str
    clients: int
    results: dict[str, Measurement]
    """The best repetition of each system (by runs per second)."""
    spread: dict[str, list[float]] = field(default_factory=dict)
    """Runs per second of every repetition, by system."""

    def ratio(self) -> float | None:
        """AgentList's runs per second over the reference's."""
        ours, theirs = self.results.get("agentlist"), self.results.get("reference")
        if ours is None or theirs is None or theirs.runs_per_second <= 0:
            return None
        return ours.runs_per_second / theirs.runs_per_second


@dataclass(frozen=True)
class Memory:
    """The stack's processes after the load: RSS counts shared pages once per process, PSS
    splits them between the processes that share them (the honest total)."""

    rss_mb: float
    pss_mb: float
    processes: Mapping[str, float]
    """PSS (MB) by role."""


@dataclass(frozen=True)
class Target:
    what: str
    value: str
    met: bool | None
    """``None``: not measured in this run."""


@dataclass(frozen=True)
class Results:
    machine: Mapping[str, Any]
    setup: Mapping[str, Any]
    scenarios: Sequence[Scenario]
    memory: Mapping[str, Memory]
    notes: Sequence[str] = ()
    counts: Mapping[str, Any] | None = None
    """Round trips of one run, counted by the servers (``benchmarks/per_run_counts.py``)."""
    before: Mapping[str, Any] | None = None
    """An earlier ``results.json`` (a :class:`Results` as a dict) to compare CPU per run with."""

    def scenario(self, name: str) -> Scenario | None:
        return next((s for s in self.scenarios if s.name == name), None)


# -- targets ---------------------------------------------------------------------------------

THROUGHPUT_RATIO = 3.0
ONE_RUN_P50_MS = 20.0
CEILING_SHARE = 0.5
CPU_PER_RUN_MS = 12.0
CPU_CLIENTS = 16
PSS_MB = 600.0
RATIO_SCENARIOS = ("wait-64", "stream-16", "stream-64")


def targets(results: Results) -> list[Target]:
    """Issue 13's targets, judged on this run's figures."""
    found = [_cpu_target(results)]
    for name in RATIO_SCENARIOS:
        kind, clients = name.split("-")
        ratio = _ratio_of(results.scenario(name))
        found.append(
            Target(
                f"runs.{kind}, {clients} clients: ≥ {THROUGHPUT_RATIO:g}x the reference's runs/s",
                _fmt_ratio(ratio),
                None if ratio is None else ratio >= THROUGHPUT_RATIO,
            )
        )
    one = results.scenario("wait-1")
    p50 = one.results["agentlist"].latency.p50 if one and "agentlist" in one.results else None
    found.append(
        Target(
            f"one trivial run (runs.wait, 1 client): p50 < {ONE_RUN_P50_MS:g} ms",
            _fmt_ms(p50),
            None if p50 is None else p50 < ONE_RUN_P50_MS,
        )
    )
    sleepy = results.scenario("sleepy-64")
    share = ceiling_share(sleepy, "agentlist") if sleepy else None
    found.append(
        Target(
            f"64 clients, 200 ms runs: ≥ {CEILING_SHARE:.0%} of the ceiling (64 / 0.2 s = 320/s)",
            _fmt_share(share),
            None if share is None else share >= CEILING_SHARE,
        )
    )
    memory = results.memory.get("agentlist")
    found.append(
        Target(
            f"the whole stack's PSS after the load ≤ {PSS_MB:g} MB",
            "—" if memory is None else f"{memory.pss_mb:.0f} MB",
            None if memory is None else memory.pss_mb <= PSS_MB,
        )
    )
    return found


def _cpu_target(results: Results) -> Target:
    scenario = results.scenario(f"wait-{CPU_CLIENTS}")
    measured = scenario.results.get("agentlist") if scenario else None
    cost = cpu_per_run_ms(measured, with_client=False) if measured else None
    return Target(
        f"CPU per trivial run at {CPU_CLIENTS} clients, every AgentList process and server"
        f" summed: ≤ {CPU_PER_RUN_MS:g} ms",
        _fmt_ms(cost),
        None if cost is None else cost <= CPU_PER_RUN_MS,
    )


def ceiling(clients: int) -> float:
    return clients / SLEEP_SECONDS


def ceiling_share(scenario: Scenario, system: str) -> float | None:
    measured = scenario.results.get(system)
    if measured is None:
        return None
    return measured.runs_per_second / ceiling(scenario.clients)


def _ratio_of(scenario: Scenario | None) -> float | None:
    return scenario.ratio() if scenario is not None else None


# -- Markdown --------------------------------------------------------------------------------


def _fmt_ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f} ms" if value >= 100 else f"{value:.1f} ms"


def _fmt_rate(value: float) -> str:
    return f"{value:.0f}/s" if value >= 100 else f"{value:.1f}/s"


def _fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}x"


def _fmt_share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[met]


def _cell(measurement: Measurement | None, spread: Sequence[float] = ()) -> str:
    if measurement is None:
        return "—"
    text = _fmt_rate(measurement.runs_per_second)
    if len(spread) > 1:
        text += f" ({min(spread):.0f}-{max(spread):.0f})"
    if measurement.errors:
        text += f" ({measurement.errors} errors)"
    return text


def _latency_cell(latency: Latencies | None) -> str:
    if latency is None or latency.count == 0:
        return "—"
    return " / ".join(_fmt_ms(v) for v in (latency.p50, latency.p95, latency.p99))


def _throughput_table(results: Results) -> list[str]:
    lines = [
        "| scenario | AgentList runs/s | reference runs/s | ratio | AgentList p50 / p95 / p99"
        " | reference p50 / p95 / p99 | runs (AgentList / reference) |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in results.scenarios:
        ours, theirs = s.results.get("agentlist"), s.results.get("reference")
        counts = f"{ours.runs if ours else 0} / {theirs.runs if theirs else 0}"
        lines.append(
            f"| {s.title} | {_cell(ours, s.spread.get('agentlist', ()))}"
            f" | {_cell(theirs, s.spread.get('reference', ()))} | {_fmt_ratio(s.ratio())}"
            f" | {_latency_cell(ours.latency if ours else None)}"
            f" | {_latency_cell(theirs.latency if theirs else None)} | {counts} |"
        )
    return lines


def _first_event_table(results: Results) -> list[str]:
    streams = [s for s in results.scenarios if s.kind == "stream"]
    if not streams:
        return []
    lines = [
        "| scenario | AgentList first event p50 / p95 | reference first event p50 / p95"
        " | AgentList first `values` p50 / p95 | reference first `values` p50 / p95 |",
        "|---|---|---|---|---|",
    ]
    for s in streams:
        cells = []
        for attr in ("first_event", "first_values"):
            for system in SYSTEMS:
                m = s.results.get(system)
                lat: Latencies | None = getattr(m, attr) if m is not None else None
                cells.append(
                    "—"
                    if lat is None or lat.count == 0
                    else f"{_fmt_ms(lat.p50)} / {_fmt_ms(lat.p95)}"
                )
        lines.append(f"| {s.title} | " + " | ".join(cells) + " |")
    return lines


def _sleepy_lines(results: Results) -> list[str]:
    sleepy = [s for s in results.scenarios if s.graph == "sleepy"]
    lines = []
    for s in sleepy:
        shares = ", ".join(
            f"{label} {_fmt_share(ceiling_share(s, system))}"
            for system, label in (("agentlist", "AgentList"), ("reference", "reference"))
        )
        lines.append(
            f"* {s.title}: ceiling {ceiling(s.clients):.0f}/s ({s.clients} / 0.2 s); {shares}."
        )
    return lines


def _memory_lines(results: Results) -> list[str]:
    if not results.memory:
        return []
    lines = [
        "| system | total PSS | total RSS | by role (PSS) |",
        "|---|---|---|---|",
    ]
    for system in SYSTEMS:
        memory = results.memory.get(system)
        if memory is None:
            continue
        roles = ", ".join(
            f"{role} {mb:.0f} MB"
            for role, mb in sorted(memory.processes.items(), key=lambda kv: -kv[1])
        )
        lines.append(f"| {system} | {memory.pss_mb:.0f} MB | {memory.rss_mb:.0f} MB | {roles} |")
    ours, theirs = results.memory.get("agentlist"), results.memory.get("reference")
    if ours and theirs and theirs.pss_mb > 0:
        lines.append("")
        lines.append(f"AgentList uses {ours.pss_mb / theirs.pss_mb:.1f}x the reference's memory.")
    return lines


def _cpu_lines(results: Results) -> list[str]:
    """Where the CPU went in each scenario: seconds per role, and per run."""
    lines = [
        "| scenario | system | CPU s per 1000 runs, by role | load generator |",
        "|---|---|---|---|",
    ]
    for s in results.scenarios:
        for system in SYSTEMS:
            m = s.results.get(system)
            if m is None or m.runs == 0:
                continue
            per_k = 1000 / m.runs
            roles = ", ".join(
                f"{role} {cpu * per_k:.1f}"
                for role, cpu in sorted(m.server_cpu_seconds.items(), key=lambda kv: -kv[1])
                if cpu * per_k >= 0.05
            )
            lines.append(
                f"| {s.title} | {system} | {roles or '—'} | {m.client_cpu_seconds * per_k:.1f} |"
            )
    return lines


def cpu_per_run_ms(measurement: Measurement, with_client: bool = True) -> float | None:
    """CPU milliseconds one run cost the machine: every process of the system, and the load
    generator's share."""
    if measurement.runs == 0:
        return None
    cpu = sum(measurement.server_cpu_seconds.values())
    if with_client:
        cpu += measurement.client_cpu_seconds
    return cpu * 1000 / measurement.runs


def _capacity_lines(results: Results) -> list[str]:
    """Throughput is bounded by cores / CPU per run: the arithmetic behind the targets."""
    cores = results.machine.get("nproc")
    if not isinstance(cores, int) or cores <= 0:
        return []
    lines = []
    for name in ("wait-64", "stream-64", "sleepy-64"):
        scenario = results.scenario(name)
        if scenario is None:
            continue
        parts = []
        for system in SYSTEMS:
            measured = scenario.results.get(system)
            if measured is None:
                continue
            cost = cpu_per_run_ms(measured)
            if cost is None:
                continue
            bound = cores * 1000 / cost
            # A single process (the reference; each role, counted as if it were one) uses one
            # core at most.
            busiest = max(measured.server_cpu_seconds.values(), default=0.0)
            if busiest > 0:
                bound = min(bound, measured.runs / busiest)
            parts.append(f"{system} {cost:.0f} ms per run, so at most ~{bound:.0f} runs/s")
        if parts:
            lines.append(f"* {scenario.title}: " + "; ".join(parts) + ".")
    if lines:
        lines.insert(
            0,
            f"CPU per run (all of a system's processes plus the load generator) against the"
            f" {cores} cores of this machine, and its busiest role against one core:",
        )
        lines.insert(1, "")
    return lines


def _before_after_lines(results: Results) -> list[str]:
    """CPU per run by role at :data:`CPU_CLIENTS` clients, against the earlier run."""
    if results.before is None:
        return []
    name = f"wait-{CPU_CLIENTS}"
    earlier = results_from(results.before).scenario(name)
    now = results.scenario(name)
    then_m = earlier.results.get("agentlist") if earlier else None
    now_m = now.results.get("agentlist") if now else None
    if then_m is None or now_m is None or then_m.runs == 0 or now_m.runs == 0:
        return []
    lines = [
        f"runs.wait, {CPU_CLIENTS} clients, CPU ms per run: the run of"
        f" {results.before['setup'].get('AgentList commit', '?')} against this one.",
        "",
        "| role | before | after |",
        "|---|---|---|",
    ]
    roles = sorted(
        set(then_m.server_cpu_seconds) | set(now_m.server_cpu_seconds),
        key=lambda role: -then_m.server_cpu_seconds.get(role, 0.0),
    )
    for role in roles:
        before = then_m.server_cpu_seconds.get(role, 0.0) * 1000 / then_m.runs
        after = now_m.server_cpu_seconds.get(role, 0.0) * 1000 / now_m.runs
        lines.append(f"| {role} | {before:.1f} | {after:.1f} |")
    total_then = cpu_per_run_ms(then_m, with_client=False) or 0.0
    total_now = cpu_per_run_ms(now_m, with_client=False) or 0.0
    lines.append(f"| **total** | **{total_then:.1f}** | **{total_now:.1f}** |")
    return lines


def _escape_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _counts_lines(results: Results) -> list[str]:
    counts = results.counts
    if not counts or not counts.get("runs"):
        return []
    runs = counts["runs"]
    statements = counts.get("statements", [])
    lines = [
        f"Counted by the servers over {runs} runs (a thread created, then runs.wait on the"
        " trivial graph), divided by the runs:",
        "",
        f"* Postgres: {counts.get('transactions', 0) / runs:.1f} transactions,"
        f" {sum(calls for _, calls in statements) / runs:.1f} statements",
        f"* NATS: {counts.get('nats_messages', 0) / runs:.1f} messages from clients",
        f"* Redis: {sum(counts.get('redis_by_command', {}).values()) / runs:.1f} commands",
        "",
        "| Postgres statement | per run |",
        "|---|---|",
    ]
    lines += [
        f"| `{_escape_cell(sql)}` | {calls / runs:.2f} |"
        for sql, calls in statements
        if calls / runs >= 0.05
    ]
    lines += ["", "| NATS subject | per run |", "|---|---|"]
    lines += [
        f"| `{subject}` | {n / runs:.2f} |"
        for subject, n in counts.get("nats_by_subject", {}).items()
    ]
    lines += ["", "| Redis command | per run |", "|---|---|"]
    lines += [
        f"| {command} | {n / runs:.2f} |"
        for command, n in counts.get("redis_by_command", {}).items()
    ]
    return lines


def _mapping_lines(values: Mapping[str, Any]) -> list[str]:
    return [f"* {key}: {value}" for key, value in values.items()]


def markdown(results: Results) -> str:
    found = targets(results)
    sections: list[list[str]] = [
        ["# AgentList benchmarks", ""],
        [
            "AgentList against the reference server (`langgraph dev`: langgraph-cli with the"
            " in-memory runtime), same graphs, same machine, same run. Every scenario ran"
            " against both, back to back. Produced by `benchmarks/run.py`; the raw figures"
            " are in `results.json`.",
            "",
        ],
        ["## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
        + [f"| {t.what} | {t.value} | {_verdict(t.met)} |" for t in found]
        + [""],
        ["## Throughput and latency", "", *_throughput_table(results), ""],
        ["## Time to first event (`runs.stream`)", "", *_first_event_table(results), ""],
        ["## 200 ms runs against their ceiling", "", *_sleepy_lines(results), ""],
        ["## Memory after the load", "", *_memory_lines(results), ""],
        ["## Where the CPU went", "", *_cpu_lines(results), ""],
        ["## What bounds throughput", "", *_capacity_lines(results), ""],
        ["## CPU per run, before and after", "", *_before_after_lines(results), ""],
        ["## Round trips per run", "", *_counts_lines(results), ""],
        ["## Machine", "", *_mapping_lines(results.machine), ""],
        ["## Setup", "", *_mapping_lines(results.setup), ""],
    ]
    if results.notes:
        sections.append(["## Notes", "", *(f"* {note}" for note in results.notes), ""])
    # A section with nothing measured under its heading (heading, blank, blank) is left out.
    shown = [s for s in sections if not s[0].startswith("## ") or any(s[2:])]
    return "\n".join(line for section in shown for line in section).rstrip() + "\n"


# -- JSON ------------------------------------------------------------------------------------


def _latencies_from(data: Mapping[str, Any] | None) -> Latencies | None:
    return Latencies(**data) if data is not None else None


def measurement_from(data: Mapping[str, Any]) -> Measurement:
    return Measurement(
        runs=data["runs"],
        errors=data["errors"],
        seconds=data["seconds"],
        latency=Latencies(**data["latency"]),
        first_event=_latencies_from(data.get("first_event")),
        first_values=_latencies_from(data.get("first_values")),
        client_cpu_seconds=data.get("client_cpu_seconds", 0.0),
        server_cpu_seconds=data.get("server_cpu_seconds", {}),
    )


def results_from(data: Mapping[str, Any]) -> Results:
    """The inverse of ``dataclasses.asdict`` on :class:`Results` (a report from a JSON)."""
    return Results(
        machine=data["machine"],
        setup=data["setup"],
        scenarios=[
            Scenario(
                name=s["name"],
                title=s["title"],
                kind=s["kind"],
                graph=s["graph"],
                clients=s["clients"],
                results={k: measurement_from(v) for k, v in s["results"].items()},
                spread=s.get("spread", {}),
            )
            for s in data["scenarios"]
        ],
        memory={k: Memory(**v) for k, v in data.get("memory", {}).items()},
        notes=tuple(data.get("notes", ())),
        counts=data.get("counts"),
        before=None,  # an earlier run's own "before" is not carried forward
    )
