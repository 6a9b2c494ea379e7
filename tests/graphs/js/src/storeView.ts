/** Shows what its run sees of the store: the twin of tests/graphs/tenant_graphs.py's
 * `store_view`, but for the namespaces: LangGraph.js's `AsyncBatchedStore`, which wraps the
 * store a run is given, cannot list them (its `listNamespaces` ends in a `batch` that throws). */
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  user: Annotation<string>(),
  note: Annotation<string>(),
  recalled: Annotation<Record<string, unknown> | null>(),
  items: Annotation<string[]>(),
});
type S = typeof State.State;

async function look(state: S, config: LangGraphRunnableConfig): Promise<Partial<S>> {
  const store = config.store!;
  const namespace = ["memories", state.user || "anonymous"];
  const previous = await store.get(namespace, "note");
  if (state.note) await store.put(namespace, "note", { text: state.note });
  const found = await store.search([], { limit: 100 });
  return {
    recalled: previous?.value ?? null,
    items: found.map((item) => [...item.namespace, item.key].join("/")).sort(),
  };
}

export const storeView = new StateGraph(State)
  .addNode("look", look)
  .addEdge(START, "look")
  .addEdge("look", END)
  .compile();
