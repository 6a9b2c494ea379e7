// Module resolution hooks (node:module `register`): a bare import a graph cannot resolve from
// its own folder (`@langchain/langgraph` in a folder with no node_modules) is resolved from
// this package instead, so graphs may use the worker's LangGraph.js without installing it.
// Plain JavaScript: hooks run on the loader thread, before tsx could compile anything.

let fallbackParent;

export function initialize(data) {
  fallbackParent = data.parentURL;
}

export function isBareSpecifier(specifier) {
  return !/^(\.|\/|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier) && !specifier.startsWith("#");
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error?.code !== "ERR_MODULE_NOT_FOUND" || !isBareSpecifier(specifier) || context.parentURL === fallbackParent) throw error;
    try {
      return await nextResolve(specifier, { ...context, parentURL: fallbackParent });
    } catch {
      throw error;
    }
  }
}
