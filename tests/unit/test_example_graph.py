"""The example graph `agentlist dev` serves answers what agent-chat-ui and the Studio send,
plain strings and content blocks alike, token by token."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk

from agentlist.worker.examples.agent import graph


@pytest.mark.parametrize(
    "content",
    ["Hello there", [{"type": "text", "text": "Hello"}, {"type": "text", "text": " there"}]],
)
async def test_the_reply_is_clean_text(content: Any) -> None:
    said: Any = {"messages": [{"role": "user", "content": content}]}
    result = await graph.ainvoke(said)
    assert result["messages"][-1].content == "You said: Hello there"


async def test_the_reply_streams_token_by_token() -> None:
    said: Any = {"messages": [{"role": "user", "content": "Hello there"}]}
    tokens = [
        str(chunk.content)
        async for chunk, _meta in graph.astream(said, stream_mode="messages")
        if isinstance(chunk, AIMessageChunk)
    ]
    assert len(tokens) > 2 and "".join(tokens) == "You said: Hello there"
