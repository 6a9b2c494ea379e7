"""How long this API instance takes to answer, per route, for ``/metrics/api-latency``.

The time is until the response starts (its status line), so a stream counts as the wait for
its first byte, not as the whole conversation. Each route keeps its last
:data:`SAMPLES_PER_ROUTE` times: percentiles describe the recent past, and memory stays bounded
whatever the traffic. Routes are named by their template (``GET /threads/{thread_id}``), never
by a concrete path, so ids do not multiply the entries.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAMPLES_PER_ROUTE: Final = 2048
UNMATCHED: Final = "(no route)"
BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds (seconds) of the Prometheus histogram's buckets; ``+Inf`` is the count."""


@dataclass
class Histogram:
    """Cumulative counts since start, as Prometheus wants them (never reset)."""

    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    count: int = 0
    total_seconds: float = 0.0

    def observe(self, seconds: float) -> None:
        self.count += 1
        self.total_seconds += seconds
        for index, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.buckets[index] += 1


class LatencyRecorder:
    def __init__(self, samples_per_route: int = SAMPLES_PER_ROUTE) -> None:
        self._keep = samples_per_route
        self._samples: dict[str, deque[float]] = {}
        self._histograms: dict[str, Histogram] = {}

    def record(self, route: str, seconds: float) -> None:
        samples = self._samples.get(route)
        if samples is None:
            samples = self._samples[route] = deque(maxlen=self._keep)
            self._histograms[route] = Histogram()
        samples.append(seconds)
        self._histograms[route].observe(seconds)

    def histograms(self) -> dict[str, Histogram]:
        return dict(self._histograms)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per route: requests since start, and percentiles of the recent ones, in ms."""
        return {route: self._route_summary(route) for route in sorted(self._samples)}

    def _route_summary(self, route: str) -> dict[str, Any]:
        ordered = sorted(self._samples[route])
        return {
            "count": self._histograms[route].count,
            "recent": len(ordered),
            "p50_ms": _ms(_percentile(ordered, 0.50)),
            "p90_ms": _ms(_percentile(ordered, 0.90)),
            "p99_ms": _ms(_percentile(ordered, 0.99)),
            "max_ms": _ms(ordered[-1]),
        }


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


class RecordLatency:
    """ASGI middleware that times every HTTP request into a :class:`LatencyRecorder`."""

    def __init__(self, app: ASGIApp, recorder: LatencyRecorder) -> None:
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.recorder.record(_route_of(scope), time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, timed_send)


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    template = getattr(route, "path", None)
    return f"{scope['method']} {template}" if isinstance(template, str) else UNMATCHED
