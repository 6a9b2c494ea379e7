/** One step per `delay` seconds until `total` steps: the twin of tests/graphs/graphs.py's
 * `slow`. It gives up its step when the run is cancelled (the abort signal). */
import { setTimeout as sleep } from "node:timers/promises";
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  steps: Annotation<number[]>({ reducer: (left, right) => [...left, ...right], default: () => [] }),
  delay: Annotation<number>(),
  total: Annotation<number>(),
});
type S = typeof State.State;

async function step(state: S, config: LangGraphRunnableConfig): Promise<Partial<S>> {
  await sleep((state.delay ?? 1) * 1000, undefined, { signal: config.signal });
  return { steps: [state.steps.length + 1] };
}

export const slow = new StateGraph(State)
  .addNode("step", step)
  .addEdge(START, "step")
  .addConditionalEdges("step", (state: S) => (state.steps.length < (state.total ?? 5) ? "step" : END), ["step", END])
  .compile();
