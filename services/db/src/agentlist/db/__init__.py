"""The mesh's Postgres: schema migrations, connection pools and the one query convention.

Used by the API, scheduler, registry and bridge; workers never import it (they reach Postgres
only through LangGraph's checkpointer and store).
"""
