/** Asks a human before acting: `ask` interrupts with a question, the resume value is stored. */
import { Annotation, END, interrupt, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  topic: Annotation<string>(),
  answer: Annotation<string>(),
});

function ask(state: typeof State.State): Partial<typeof State.State> {
  const answer = interrupt<{ question: string }, string>({ question: `Approve ${state.topic}?` });
  return { answer };
}

export const graph = new StateGraph(State)
  .addNode("ask", ask)
  .addEdge(START, "ask")
  .addEdge("ask", END)
  .compile();

