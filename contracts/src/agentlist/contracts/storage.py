"""Agreements about shared Postgres storage that every participant must honour."""

from __future__ import annotations

from typing import Final, Literal, get_args

LANGGRAPH_SETUP_LOCK: Final = 0x6167_6C77_6B72
"""Advisory lock key held while running ``setup()`` of LangGraph's Postgres checkpointer and
store: workers (and API instances) starting together would otherwise race on CREATE TABLE."""

ActiveRunStatus = Literal["pending", "running"]
"""A run waiting for a worker, or held by one: it keeps its thread busy and can be cancelled."""

RunEndStatus = Literal["success", "error", "interrupted", "timeout"]
"""How a run ended: only the bridge writes these, when it applies the run's outcome."""

RunStatus = Literal[ActiveRunStatus, RunEndStatus]
"""The ``status`` of a row of ``runs``: exactly what the table's CHECK constraint allows (a
test reads the constraint)."""

ACTIVE_RUN_STATUSES: Final[tuple[ActiveRunStatus, ...]] = get_args(ActiveRunStatus)
RUN_END_STATUSES: Final[frozenset[RunEndStatus]] = frozenset(get_args(RunEndStatus))

ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
"""The ``status`` of a row of ``threads``, as its CHECK constraint allows: ``busy`` while one of
its runs is active."""
