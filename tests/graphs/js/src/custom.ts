/** Writes three custom stream events, the twin of tests/graphs/conformance.py's `custom`. */
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({ steps: Annotation<number>() });

function report(_state: typeof State.State, config: LangGraphRunnableConfig): Partial<typeof State.State> {
  for (let step = 0; step < 3; step += 1) config.writer?.({ progress: step });
  return { steps: 3 };
}

export const custom = new StateGraph(State)
  .addNode("report", report)
  .addEdge(START, "report")
  .addEdge("report", END)
  .compile();
