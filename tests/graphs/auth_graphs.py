"""A graph that says who ran it: what the server put in ``configurable`` for its caller."""

from __future__ import annotations

from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph


class Seen(TypedDict, total=False):
    user_id: str
    user: dict[str, Any]
    permissions: list[str]


def whoami_node(state: Seen, config: RunnableConfig) -> Seen:
    configurable = config.get("configurable", {})
    user = configurable.get("langgraph_auth_user")
    return {
        "user_id": configurable.get("langgraph_auth_user_id", ""),
        "user": dict(user) if user is not None else {},
        "permissions": list(configurable.get("langgraph_auth_permissions", [])),
    }


builder = StateGraph(Seen)
builder.add_node("whoami", whoami_node)
builder.add_edge(START, "whoami")
builder.add_edge("whoami", END)
whoami = builder.compile()
