/** The AgentList worker runtime for LangGraph.js graphs (library entry; the CLI is `cli.ts`). */
export { main, runWorker } from "./cli.js";
export { readConfig, parseConfig, ConfigError, type GraphsConfig, type GraphEntry } from "./config.js";
export { loadGraphs, GraphSource } from "./loader.js";
export { Worker, type WorkerOptions } from "./worker.js";
export { readSettings, type WorkerSettings } from "./settings.js";
export * from "./generated/contracts.js";
