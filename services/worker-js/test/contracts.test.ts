import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { GENERATED_DIR, writeGenerated } from "../scripts/gen-contracts.ts";
import { MESSAGE_TYPE } from "../src/generated/contracts.ts";
import * as subjects from "../src/subjects.ts";

test("generated contracts match contracts/schema (run `npm run gen:contracts` if not)", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "agentlist-gen-"));
  try {
    await writeGenerated(dir);
    const fresh = (await readdir(dir)).sort();
    assert.deepEqual((await readdir(GENERATED_DIR)).sort(), fresh);
    for (const name of fresh) {
      const committed = await readFile(path.join(GENERATED_DIR, name), "utf8");
      assert.equal(committed, await readFile(path.join(dir, name), "utf8"), `src/generated/${name} drifted`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("subject builders fill the generated templates with subject tokens", () => {
  assert.equal(subjects.runEvents("r-1"), subjects.RUN_EVENTS.replace("{run_id}", "r-1"));
  assert.equal(subjects.workerDispatch("t", "js-w_1"), subjects.WORKER_DISPATCH.replace("{team}", "t").replace("{worker_id}", "js-w_1"));
  assert.equal(subjects.registryRegister("t"), subjects.REGISTRY_REGISTER.replace("{team}", "t"));
  assert.equal(subjects.registryHeartbeat("t"), subjects.REGISTRY_HEARTBEAT.replace("{team}", "t"));
  assert.equal(subjects.graphState("agent"), subjects.GRAPH_STATE.replace("{graph_id}", "agent"));
  assert.equal(subjects.runCancel("r"), subjects.RUN_CANCEL.replace("{run_id}", "r"));
  assert.equal(subjects.workerControl("t", "w"), subjects.WORKER_CONTROL.replace("{team}", "t").replace("{worker_id}", "w"));
  for (const bad of ["a.b", "a*", ">", "a b", ""]) assert.throws(() => subjects.runEvents(bad), /subject token/);
});

test("event message ids are run:attempt:seq and a digest of the lease token, as Python's", () => {
  // subjects.event_msg_id("r", 2, 7, "tok") in contracts/subjects.py
  assert.equal(subjects.eventMsgId("r", 2, 7, "tok"), "r:2:7:1a7674eb4ee78df7");
  assert.equal(subjects.eventMsgId("r", 2, 7, null), "r:2:7");
});

test("message types come from the schema", () => {
  assert.equal(MESSAGE_TYPE.RunEvent, "agentlist.run.event.v1");
  assert.equal(MESSAGE_TYPE.WorkerRegister, "agentlist.worker.register.v1");
});

test("a worker's team is read from its NATS user as contracts' access.team_of_user reads it", () => {
  assert.equal(subjects.teamOfUser("worker-search"), "search");
  assert.equal(subjects.teamOfUser("worker"), subjects.DEFAULT_TEAM);
  assert.equal(subjects.teamOfUser("worker-"), subjects.DEFAULT_TEAM);
  assert.equal(subjects.teamOfUser(undefined), subjects.DEFAULT_TEAM);
});
