"""The auth overhead benchmark's arithmetic on canned trials (no servers, no load)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # ``benchmarks`` is a folder of the repository, not installed
    sys.path.insert(0, str(ROOT))

from benchmarks.auth_overhead import (  # noqa: E402
    MODES,
    Mode,
    Trial,
    ratios,
    shares,
    summarize,
    table,
)


def test_shares_split_every_request_and_leave_no_sender_idle() -> None:
    assert shares(3000, 16) == [188] * 8 + [187] * 8
    assert shares(3, 16) == [1, 1, 1]
    assert sum(shares(301, 7)) == 301


def _trial(mode: Mode, cpu_us: float) -> Trial:
    return Trial(mode, cpu_us, 1e6 / cpu_us, 2.0, 4.0)


def test_each_mode_is_summarized_by_its_median_and_compared_with_open() -> None:
    cpu: dict[Mode, float] = {
        "open": 100.0,
        "jwt-hs256": 120.0,
        "jwt-rs256": 200.0,
        "api-key": 110.0,
        "custom": 150.0,
    }
    slow = {mode: value * 5 for mode, value in cpu.items()}
    rounds = (cpu, slow, cpu)
    trials = [_trial(mode, value) for values in rounds for mode, value in values.items()]

    summaries = [summarize(trials, mode) for mode in MODES]

    assert [s.median_cpu_us_per_request for s in summaries] == [cpu[mode] for mode in MODES]
    assert summaries[0].cpu_us_per_request == [100.0, 500.0, 100.0]
    assert ratios(summaries) == {mode: cpu[mode] / 100.0 for mode in MODES}
    rs256_line = next(line for line in table(summaries, 3000, 16).splitlines() if "rs256" in line)
    assert rs256_line.split()[1:3] == ["200.0", "2.00"]
