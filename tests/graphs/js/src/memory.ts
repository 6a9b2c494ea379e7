/** Reads a user's last note from the store, then stores the new one: the twin of
 * tests/graphs/conformance.py's `memory`. */
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  user: Annotation<string>(),
  note: Annotation<string>(),
  recalled: Annotation<Record<string, unknown> | null>(),
});
type S = typeof State.State;

async function remember(state: S, config: LangGraphRunnableConfig): Promise<Partial<S>> {
  const store = config.store!;
  const namespace = ["memories", state.user || "anonymous"];
  const previous = await store.get(namespace, "note");
  if (state.note) await store.put(namespace, "note", { text: state.note });
  return { recalled: previous?.value ?? null };
}

export const memory = new StateGraph(State)
  .addNode("remember", remember)
  .addEdge(START, "remember")
  .addEdge("remember", END)
  .compile();
