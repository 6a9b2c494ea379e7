"""The Python worker runtime: serves the graphs of a ``langgraph.json`` to the AgentList mesh.

It depends on ``agentlist.contracts`` and LangGraph only (plus nats-py, psycopg, pydantic and
orjson), so that worker teams can install it into their own environments.
"""
