"""The embedded launcher: real NATS, Postgres and Redis servers from PyPI wheels, and the mesh's
services, as child processes of one command (``agentlist dev``) or of the test suite."""

from agentlist.launcher.stack import Stack, StackOptions

__all__ = ["Stack", "StackOptions"]
