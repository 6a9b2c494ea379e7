/** A two-node echo chat, the LangGraph.js twin of tests/graphs/graphs.py's `agent`. */
import { AIMessage, AIMessageChunk, type BaseMessage } from "@langchain/core/messages";
import { FakeStreamingChatModel } from "@langchain/core/utils/testing";
import { Annotation, END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  ...MessagesAnnotation.spec,
  turns: Annotation<number>(),
});
type S = typeof State.State;

function lastText(state: S): string {
  const last: BaseMessage | undefined = state.messages.at(-1);
  return typeof last?.content === "string" ? last.content : "";
}

function prepare(state: S): Partial<S> {
  return { turns: (state.turns ?? 0) + 1 };
}

/** Streams an echo token by token, like a chat model would. */
async function respond(state: S): Promise<Partial<S>> {
  const text = `echo: ${lastText(state)}`;
  const model = new FakeStreamingChatModel({
    sleep: 0,
    // Answers `invoke` when nothing streams (the model's default is to echo the first message).
    responses: [new AIMessage(text)],
    // Python's GenericFakeChatModel splits the same way: words and the spaces between them.
    chunks: text
      .split(/(\s)/)
      .filter((token) => token !== "")
      .map((token) => new AIMessageChunk({ content: token })),
  });
  const reply = await model.invoke(state.messages);
  // LangChain.js names a reply `run-<id>` only when callbacks run (a streamed run); Python's
  // chat models always do.
  const id = reply.id ?? `run-${crypto.randomUUID()}`;
  return { messages: [new AIMessage({ id, content: reply.content })] };
}

export const agent = new StateGraph(State)
  .addNode("prepare", prepare)
  .addNode("respond", respond)
  .addEdge(START, "prepare")
  .addEdge("prepare", "respond")
  .addEdge("respond", END)
  .compile();
