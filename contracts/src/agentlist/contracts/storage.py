"""Agreements about shared Postgres storage that every participant must honour."""

from __future__ import annotations

from typing import Final

LANGGRAPH_SETUP_LOCK: Final = 0x6167_6C77_6B72
"""Advisory lock key held while running ``setup()`` of LangGraph's Postgres checkpointer and
store: workers (and API instances) starting together would otherwise race on CREATE TABLE."""
