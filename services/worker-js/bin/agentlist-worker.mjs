#!/usr/bin/env node
// Registers tsx first, so the runtime and the graphs it loads run from TypeScript sources with
// no build step (ESM and CommonJS graphs alike); then lets graphs import this package's own
// dependencies (LangGraph.js, LangChain) when their folder has none installed.
import { createRequire, register } from "node:module";
import Module from "node:module";
import { register as registerEsm } from "tsx/esm/api";
import { register as registerCjs } from "tsx/cjs/api";

registerEsm();
registerCjs();
const packageJson = new URL("../package.json", import.meta.url);
register("../src/fallbackHooks.mjs", import.meta.url, { data: { parentURL: packageJson.href } });
const { isBareSpecifier } = await import("../src/fallbackHooks.mjs");
const fromPackage = createRequire(packageJson);
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  try {
    return resolveFilename.call(this, request, parent, ...rest);
  } catch (error) {
    if (error?.code !== "MODULE_NOT_FOUND" || !isBareSpecifier(request)) throw error;
    try {
      return fromPackage.resolve(request);
    } catch {
      throw error;
    }
  }
};
const { main } = await import("../src/cli.ts");
process.exit(await main(process.argv.slice(2)));
