/**
 * A chat agent with no LLM behind it: `prepare` picks the text to answer, `respond` echoes it
 * through a fake chat model that streams word by word, so every stream mode (including
 * `messages-tuple` for agent-chat-ui) has something to show and nothing leaves the machine.
 */
import { AIMessage, AIMessageChunk, type BaseMessage } from "@langchain/core/messages";
import { FakeStreamingChatModel } from "@langchain/core/utils/testing";
import { Annotation, END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  ...MessagesAnnotation.spec,
  reply: Annotation<string>(),
});

function prepare(state: typeof State.State): Partial<typeof State.State> {
  const last: BaseMessage | undefined = state.messages.at(-1);
  const text = typeof last?.content === "string" ? last.content : "hello";
  return { reply: `${process.env.ECHO_PREFIX ?? "You said: "}${text}` };
}

async function respond(state: typeof State.State): Promise<Partial<typeof State.State>> {
  const words = state.reply.split(/(?<= )/);
  const model = new FakeStreamingChatModel({
    chunks: words.map((word) => new AIMessageChunk({ content: word })),
    // What `invoke` answers when nobody streams (the fake model would echo the first message).
    responses: [new AIMessage(state.reply)],
  });
  const message = await model.invoke(state.messages);
  return { messages: [new AIMessage({ id: message.id, content: message.content })] };
}

export const graph = new StateGraph(State)
  .addNode("prepare", prepare)
  .addNode("respond", respond)
  .addEdge(START, "prepare")
  .addEdge("prepare", "respond")
  .addEdge("respond", END)
  .compile({ name: "Echo agent (JS)" });
