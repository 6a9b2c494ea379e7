"""The example graph `agentlist dev` serves when no langgraph.json is given.

A chat agent with no LLM behind it: it answers each message by echoing it, streamed token by
token through a fake chat model, so every stream mode (including ``messages-tuple`` for
agent-chat-ui) has something to show and nothing leaves the machine.
"""

from __future__ import annotations

from typing import Annotated, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages


class State(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]


async def respond(state: State) -> State:
    messages = state.get("messages") or []
    # ``text`` joins the text blocks agent-chat-ui sends ([{"type": "text", "text": ...}]).
    text = str(messages[-1].text) if messages else "hello"
    model = GenericFakeChatModel(messages=iter([AIMessage(content=f"You said: {text}")]))
    return {"messages": [await model.ainvoke(messages)]}


builder = StateGraph(State)
builder.add_node("respond", respond)
builder.add_edge(START, "respond")
builder.add_edge("respond", END)
graph = builder.compile()
graph.name = "Echo agent"
