/** The runtime's own version and those of the libraries it runs graphs with. */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

function versionOf(packageJson: string): string | undefined {
  try {
    return (require(packageJson) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

export const WORKER_VERSION: string = versionOf("../package.json") ?? "0.0.0";

export function runtimeVersions(): Record<string, string> {
  // Keys as the Python worker names its libraries, so one view lists both languages.
  const found: Record<string, string> = { node: process.versions.node };
  const libraries = { langgraph: "@langchain/langgraph", "langchain-core": "@langchain/core", "langgraph-checkpoint-postgres": "@langchain/langgraph-checkpoint-postgres" };
  for (const [key, name] of Object.entries(libraries)) found[key] = versionOf(`${name}/package.json`) ?? "unknown";
  return found;
}
