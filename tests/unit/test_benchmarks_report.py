"""The benchmark report writer on canned numbers (no servers, no load)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # ``benchmarks`` is a folder of the repository, not installed
    sys.path.insert(0, str(ROOT))

from benchmarks import report  # noqa: E402
from benchmarks.report import Latencies, Measurement, Memory, Results, Scenario  # noqa: E402


def _measured(runs_per_second: float, p50_ms: float, seconds: float = 10.0) -> Measurement:
    runs = round(runs_per_second * seconds)
    return Measurement(
        runs=runs,
        errors=0,
        seconds=seconds,
        latency=Latencies(count=runs, p50=p50_ms, p95=p50_ms * 2, p99=p50_ms * 3, max=p50_ms * 4),
        server_cpu_seconds={"worker": 2.0, "api": 1.0},
        client_cpu_seconds=0.5,
    )


def _scenario(name: str, ours: float, theirs: float, p50: float = 10.0) -> Scenario:
    kind, _, clients = name.partition("-")
    return Scenario(
        name=name,
        title=name,
        kind="wait" if kind == "sleepy" else kind,  # type: ignore[arg-type]
        graph="sleepy" if kind == "sleepy" else "trivial",
        clients=int(clients),
        results={"agentlist": _measured(ours, p50), "reference": _measured(theirs, 1000.0)},
    )


def _results() -> Results:
    return Results(
        machine={"nproc": 2},
        setup={"AgentList": "2 workers"},
        scenarios=[
            _scenario("wait-1", 50, 1, p50=20.0),
            _scenario("wait-16", 90, 30),  # exactly 3x: met
            _scenario("wait-64", 100, 50),  # 2x: missed
            _scenario("stream-16", 80, 20),
            _scenario("sleepy-64", 300, 60),
        ],
        memory={
            "agentlist": Memory(rss_mb=900, pss_mb=600, processes={"postgres": 300, "api": 80}),
            "reference": Memory(rss_mb=150, pss_mb=150, processes={"langgraph dev": 150}),
        },
    )


def test_percentile_is_nearest_rank() -> None:
    samples = [float(v) for v in range(1, 101)]
    assert report.percentile(samples, 0.5) == 50
    assert report.percentile(samples, 0.95) == 95
    assert report.percentile(samples, 0.99) == 99
    assert report.percentile([3.0], 0.99) == 3.0
    assert report.percentile([], 0.5) is None


def test_latencies_are_in_milliseconds() -> None:
    latency = Latencies.of([0.010, 0.020, 0.030])
    assert latency.count == 3
    assert latency.p50 == 20.0
    assert latency.max == 30.0


def test_targets_are_judged_on_cpu_ratios_latency_the_ceiling_and_memory() -> None:
    verdicts = {t.what: t.met for t in report.targets(_results())}
    # wait-16: 900 runs for 3 s of the servers' CPU is 3.3 ms a run; the client's is not counted.
    cpu = "CPU per trivial run at 16 clients, every AgentList process and server summed: ≤ 12 ms"
    assert verdicts[cpu] is True
    assert verdicts["runs.wait, 64 clients: ≥ 3x the reference's runs/s"] is False
    assert verdicts["runs.stream, 16 clients: ≥ 3x the reference's runs/s"] is True
    assert verdicts["runs.stream, 64 clients: ≥ 3x the reference's runs/s"] is None
    assert verdicts["one trivial run (runs.wait, 1 client): p50 < 20 ms"] is False  # 20.0
    # 300/s of a 320/s ceiling is 94%.
    assert verdicts["64 clients, 200 ms runs: ≥ 50% of the ceiling (64 / 0.2 s = 320/s)"] is True
    assert verdicts["the whole stack's PSS after the load ≤ 600 MB"] is True


def test_cpu_target_is_missed_when_the_servers_spend_more() -> None:
    costly = dataclasses.replace(
        _results().scenarios[1].results["agentlist"],
        server_cpu_seconds={"worker": 8.0, "postgres": 4.0, "api": 2.0},  # 15.6 ms a run
    )
    results = _results()
    results.scenarios[1].results["agentlist"] = costly
    target = report.targets(results)[0]
    assert (target.value, target.met) == ("15.6 ms", False)


def test_counts_and_before_after_are_shown_when_measured() -> None:
    earlier = dataclasses.asdict(_results())
    earlier["setup"]["AgentList commit"] = "abc1234"
    earlier["scenarios"][1]["results"]["agentlist"]["server_cpu_seconds"] = {
        "worker": 9.0,
        "api": 4.5,
    }
    counts = {
        "runs": 10,
        "transactions": 270,
        "statements": [["SELECT a | b", 100], ["COMMIT", 280]],
        "nats_messages": 132,
        "nats_by_subject": {"agentlist.v1.runs.*.events": 60},
        "redis_by_command": {"xadd": 100, "evalsha": 59},
    }
    text = report.markdown(dataclasses.replace(_results(), counts=counts, before=earlier))
    assert "| worker | 10.0 | 2.2 |" in text  # 9 s / 900 runs, then 2 s / 900 runs
    assert "| **total** | **15.0** | **3.3** |" in text
    assert "the run of abc1234" in text
    assert "* Postgres: 27.0 transactions, 38.0 statements" in text
    assert "| `SELECT a \\| b` | 10.00 |" in text
    assert "| xadd | 10.00 |" in text


def test_sections_without_figures_are_left_out() -> None:
    text = report.markdown(_results())
    assert "## Round trips per run" not in text
    assert "## CPU per run, before and after" not in text


def test_markdown_shows_both_systems_and_every_verdict() -> None:
    text = report.markdown(_results())
    assert "| wait-64 | 100/s | 50.0/s | 2.0x |" in text
    assert "**missed**" in text
    assert "not measured" in text
    assert "AgentList uses 4.0x the reference's memory." in text
    assert "postgres 300 MB" in text


def test_results_survive_a_trip_through_json() -> None:
    results = _results()
    again = report.results_from(json.loads(json.dumps(dataclasses.asdict(results))))
    assert again == results
    assert report.markdown(again) == report.markdown(results)
