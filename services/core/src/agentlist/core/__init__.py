"""Plumbing every AgentList process shares: settings, logging, lifecycle, retry, NATS.

It knows no service: the API, scheduler, registry, bridge and workers build on it, never the
other way round.
"""

__version__ = "0.2.0"
"""The release of the mesh; every AgentList distribution carries the same version."""
