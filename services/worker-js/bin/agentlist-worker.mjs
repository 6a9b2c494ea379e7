#!/usr/bin/env node
// Registers tsx first, so the runtime and the graphs it loads run from TypeScript sources with
// no build step (ESM and CommonJS graphs alike).
import { register as registerEsm } from "tsx/esm/api";
import { register as registerCjs } from "tsx/cjs/api";

registerEsm();
registerCjs();
const { main } = await import("../src/cli.ts");
process.exit(await main(process.argv.slice(2)));
