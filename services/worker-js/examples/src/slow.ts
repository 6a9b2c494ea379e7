/** Counts to `steps`, one superstep at a time with a pause: something to cancel and to drain. */
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { setTimeout as sleep } from "node:timers/promises";

const State = Annotation.Root({
  count: Annotation<number>({ reducer: (_, next) => next, default: () => 0 }),
  steps: Annotation<number>({ reducer: (_, next) => next, default: () => 5 }),
  delay_ms: Annotation<number>({ reducer: (_, next) => next, default: () => 200 }),
});

async function tick(state: typeof State.State, config: { signal?: AbortSignal }) {
  await sleep(state.delay_ms, undefined, { signal: config.signal });
  return { count: state.count + 1 };
}

export const graph = new StateGraph(State)
  .addNode("tick", tick)
  .addEdge(START, "tick")
  .addConditionalEdges("tick", (state) => (state.count >= state.steps ? END : "tick"))
  .compile();
