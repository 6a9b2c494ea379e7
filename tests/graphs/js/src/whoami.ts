/** Says who ran it, from what the server put in `configurable` for its caller: the twin of
 * tests/graphs/auth_graphs.py's `whoami`. */
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  user_id: Annotation<string>(),
  user: Annotation<Record<string, unknown>>(),
  permissions: Annotation<string[]>(),
});

function sayWho(_state: typeof State.State, config: LangGraphRunnableConfig): Partial<typeof State.State> {
  const configurable = config.configurable ?? {};
  const user = configurable.langgraph_auth_user as Record<string, unknown> | undefined;
  return {
    user_id: String(configurable.langgraph_auth_user_id ?? ""),
    user: user ? { ...user } : {},
    permissions: [...((configurable.langgraph_auth_permissions as string[] | undefined) ?? [])],
  };
}

export const whoami = new StateGraph(State)
  .addNode("whoami", sayWho)
  .addEdge(START, "whoami")
  .addEdge("whoami", END)
  .compile();
