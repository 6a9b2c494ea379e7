"""Errors travel as data: a type name a client can branch on, and a message a human can read."""

from __future__ import annotations

from agentlist.contracts._wire import WireModel


class ErrorInfo(WireModel):
    """A failure as it crosses the wire (never a pickled exception)."""

    error: str
    """The exception class name, e.g. ``ValueError`` (what langgraph-api calls ``error``)."""
    message: str
    retryable: bool = False
    """True when a new attempt may succeed (a lost worker), false for a graph that raised."""
