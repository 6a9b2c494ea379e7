/**
 * LangChain messages in the dict form Python's `message.model_dump()` gives, so that API clients
 * cannot tell whether a Python or a JavaScript worker ran the graph. (LangChain.js's own
 * `toDict()` is `{type, data}`, and its chunks call themselves "ai", "human"...)
 */
import { isBaseMessage, isBaseMessageChunk, type BaseMessage } from "@langchain/core/messages";

export type MessageDict = Record<string, unknown>;

/** LangChain.js `getType()` names that Python spells differently. */
const PYTHON_TYPE: Record<string, string> = { generic: "chat" };
const CHUNK_TYPE: Record<string, string> = {
  ai: "AIMessageChunk",
  human: "HumanMessageChunk",
  system: "SystemMessageChunk",
  tool: "ToolMessageChunk",
  function: "FunctionMessageChunk",
  generic: "ChatMessageChunk",
};
const BASE_TYPE: Record<string, string> = Object.fromEntries(
  Object.entries(CHUNK_TYPE).map(([base, chunk]) => [chunk, PYTHON_TYPE[base] ?? base]),
);

export function isMessage(value: unknown): value is BaseMessage {
  return isBaseMessage(value);
}

function field(message: BaseMessage, name: string): unknown {
  return (message as unknown as Record<string, unknown>)[name];
}

/** The Python `model_dump()` of `message`, field for field (values not yet made JSON). */
export function messageToDict(message: BaseMessage): MessageDict {
  const jsType = message.getType();
  const chunk = isBaseMessageChunk(message);
  const type = chunk ? (CHUNK_TYPE[jsType] ?? jsType) : (PYTHON_TYPE[jsType] ?? jsType);
  const dict: MessageDict = {
    content: jsType === "remove" ? "" : message.content,
    additional_kwargs: message.additional_kwargs ?? {},
    response_metadata: message.response_metadata ?? {},
    type,
    name: message.name ?? null,
    id: message.id ?? null,
  };
  if (jsType === "ai") {
    dict.tool_calls = field(message, "tool_calls") ?? [];
    dict.invalid_tool_calls = field(message, "invalid_tool_calls") ?? [];
    dict.usage_metadata = field(message, "usage_metadata") ?? null;
    if (chunk) {
      dict.tool_call_chunks = field(message, "tool_call_chunks") ?? [];
      dict.chunk_position = field(message, "chunk_position") ?? null;
    }
  } else if (jsType === "tool") {
    dict.tool_call_id = field(message, "tool_call_id") ?? null;
    dict.artifact = field(message, "artifact") ?? null;
    dict.status = field(message, "status") ?? "success";
  } else if (jsType === "generic") {
    dict.role = field(message, "role") ?? null;
  }
  return dict;
}

/** A chunk's dict as the complete message it adds up to (Python's `message_chunk_to_message`). */
export function completeMessageDict(dict: MessageDict): MessageDict {
  const type = typeof dict.type === "string" ? BASE_TYPE[dict.type] : undefined;
  if (type === undefined) return dict;
  const { tool_call_chunks: _chunks, chunk_position: _position, ...rest } = dict;
  return { ...rest, type };
}
