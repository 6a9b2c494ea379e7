"""The registry: worker registration and heartbeats, liveness, the graph catalogue."""
