"""The bridge: run events from JetStream into Redis Streams, run outcomes into Postgres."""
