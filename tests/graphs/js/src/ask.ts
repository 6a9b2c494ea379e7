/** Interrupts with a question and stores the answer: the twin of tests/graphs/graphs.py's
 * `interrupts`. */
import { Annotation, END, interrupt, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  question: Annotation<string>(),
  answer: Annotation<string>(),
});

function ask(state: typeof State.State): Partial<typeof State.State> {
  const answer = interrupt<string, unknown>(state.question || "q");
  return { answer: String(answer) };
}

export const interrupts = new StateGraph(State)
  .addNode("ask", ask)
  .addEdge(START, "ask")
  .addEdge("ask", END)
  .compile();
