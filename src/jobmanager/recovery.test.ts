import { afterEach, describe, expect, it } from "vitest";
import { monotonicNow, sleep } from "../common/clock.ts";
import { UnavailableError } from "../common/errors.ts";
import { codecs } from "../generated/records.ts";
import { MemoryCoordinator, type MemoryHaBackend } from "../ha/memory/index.ts";
import { waitUntil } from "../ha/testing.ts";
import { TestCluster, type TestJobManager, testGraph, waitUntilAsync } from "./testing.ts";
import { type DirectLeader, directLeader, writeRaw } from "./testing-leader.ts";

let cluster: TestCluster | undefined;
let coordinator: MemoryCoordinator | undefined;
const open: DirectLeader[] = [];

afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
  coordinator?.close();
  coordinator = undefined;
  await cluster?.close();
  cluster = undefined;
});

const states = (events: TestJobManager["events"], job: string): string[] =>
  events
    .of("job-state")
    .filter((e) => e.job === job)
    .map((e) => String(e.state));
const epochOf = (jm: TestJobManager): bigint => jm.events.of("granted").at(-1)!.epoch as bigint;
const published = (jm: TestJobManager): boolean => jm.events.of("published").length > 0;

async function leader(): Promise<DirectLeader> {
  coordinator = new MemoryCoordinator();
  const l = await directLeader(coordinator);
  open.push(l);
  await l.graphs.put(testGraph("j1", 1), l.session);
  return l;
}

describe("recovery on grant", () => {
  it("deploys a recovered job although the registry lists no TaskManager", async () => {
    cluster = new TestCluster();
    const a = await cluster.startJobManager("jm-a");
    await waitUntil(() => published(a));
    // No TaskManager yet: nothing was ever deployed, so the registry stays empty.
    await a.core.dispatcher.submitJob({ graph: testGraph("j1", 1) });
    const b = await cluster.startJobManager("jm-b");
    await a.core.close();
    await waitUntil(() => published(b), 2_000);
    expect(b.events.of("job-recovered")).toHaveLength(1);
    const tm = await cluster.startTaskManager("tm-1", 1);
    await waitUntil(() => states(b.events, "j1").includes("RUNNING"), 2_000);
    expect(tm.running(epochOf(b))).toHaveLength(1);
  });

  it("a resubmission racing a recovery retry starts one job master, not two", async () => {
    const l = await leader();
    l.store.failNext("get", "jobgraphs/j1", new UnavailableError("injected: graph read"));
    await l.dispatcher.grantLeadership(l.session);
    expect(l.events.of("recovery-failed")).toHaveLength(1);
    // The resubmission reads the stored graph slowly; the recovery retry (after 50 ms) comes in between.
    const held = l.store.hold("get", "jobgraphs/j1");
    const submit = l.dispatcher.submitJob({ graph: testGraph("j1", 1) });
    await held.reached;
    await sleep(150); // lets the retry run if it is not serialised with the submission
    held.release();
    expect(await submit).toMatchObject({ jobId: "j1", alreadySubmitted: true });
    await sleep(100); // ... and lets a retry queued behind the submission run
    expect(states(l.events, "j1")).toEqual(["CREATED"]);
  });

  it("a cancel racing a recovery retry stays cancelled: no job master runs the job afterwards", async () => {
    const l = await leader();
    l.store.failNext("get", "jobgraphs/j1", new UnavailableError("injected: graph read"));
    await l.dispatcher.grantLeadership(l.session);
    // The retry has read the graph; its answer is slow.
    const held = l.store.hold("get", "jobgraphs/j1", "after");
    await held.reached;
    const cancel = l.dispatcher.cancelJob({ jobId: "j1" });
    await sleep(100); // lets the cancel complete if it is not serialised with the retry
    held.release();
    expect(await cancel).toEqual({ state: "JOB_STATE_CANCELED" });
    await waitUntilAsync(
      async () => (await l.dispatcher.listJobs()).jobs[0]?.state === "JOB_STATE_CANCELED",
      1_000,
      "j1 CANCELED",
    );
    expect((await l.results.get("j1"))?.status).toBe("JOB_STATUS_CANCELED");
    const s = states(l.events, "j1");
    if (s.length > 0) expect(s.at(-1)).toBe("CANCELED");
  });

  it("finishes a dirty result's cleanup in order: its graph is removed before it is marked clean", async () => {
    const l = await leader();
    const finished = { status: "JOB_STATUS_FINISHED", error: "", finishedAtMs: 1n } as const;
    await l.results.createDirty({ jobId: "j1", ...finished }, l.session);
    await l.results.createDirty({ jobId: "j2", ...finished }, l.session); // its graph is gone already
    const held = l.store.hold("remove", "jobgraphs/j1");
    await l.dispatcher.grantLeadership(l.session);
    await held.reached;
    await waitUntilAsync(async () => (await l.results.get("j2"))?.clean === true, 1_000, "j2 clean");
    expect(await l.graphs.jobIds()).toEqual(["j1"]);
    expect((await l.results.get("j1"))?.clean).toBe(false);
    held.release();
    await waitUntilAsync(async () => (await l.results.get("j1"))?.clean === true, 1_000, "j1 clean");
    expect(await l.graphs.jobIds()).toEqual([]);
    expect(l.events.of("job-recovered")).toEqual([]);
  });
});

describe("the taskmanager registry across leaders", () => {
  it("a new leader waits out the longest task lease recorded, not its own", async () => {
    cluster = new TestCluster();
    const c = cluster;
    const a = await c.startJobManager("jm-a");
    await waitUntil(() => published(a));
    const tm1 = await c.startTaskManager("tm-1", 1);
    await waitUntil(() => tm1.registeredEpoch === epochOf(a));
    await a.core.dispatcher.submitJob({ graph: testGraph("j1", 1) });
    await waitUntil(() => tm1.running().length === 1);
    const tm2 = await c.startTaskManager("tm-2", 1);
    await waitUntil(() => tm2.registeredEpoch === epochOf(a));
    // An earlier leader granted 700 ms task leases (its heartbeat timeout); ours is 200 ms.
    const record = { version: 1, taskmanagerIds: ["tm-1"], taskLeaseMs: 700 };
    await writeRaw(c.coordinator, "taskmanagers", codecs.TaskManagerRegistry.encode(record));
    const b = await c.startJobManager("jm-b");
    await tm1.kill();
    await a.core.close();
    await waitUntil(() => published(b), 2_000);
    await waitUntil(() => states(b.events, "j1").includes("RUNNING"), 3_000);
    const granted = b.times.get(b.events.of("granted")[0]!)!;
    const firstDeploy = b.times.get(b.events.of("task-deployed")[0]!)!;
    expect(firstDeploy - granted).toBeGreaterThanOrEqual(700 - 30 - 5);
    expect(tm2.running(epochOf(b))).toHaveLength(1);
    // tm-1 was unlisted once the old leases ran out (the record went with it); only our leases are left.
    await waitUntilAsync(async () => {
      const entry = await b.core.haBackend.store.get("taskmanagers");
      const now = entry && codecs.TaskManagerRegistry.decode(entry.value);
      return now?.taskmanagerIds.join() === "tm-2" && now.taskLeaseMs === 200;
    });
  });

  it("a corrupt registry is overwritten once every task lease ran out; deployments wait for that", async () => {
    cluster = new TestCluster();
    await writeRaw(cluster.coordinator, "taskmanagers", new Uint8Array([0xff, 0xff]));
    const a = await cluster.startJobManager("jm-a");
    await waitUntil(() => published(a));
    const tm = await cluster.startTaskManager("tm-1", 2);
    await waitUntil(() => tm.registeredEpoch === epochOf(a));
    await a.core.dispatcher.submitJob({ graph: testGraph("j1", 2) }); // no restarts: a failed deploy is fatal
    await waitUntil(() => states(a.events, "j1").some((s) => s === "RUNNING" || s === "FAILED"), 2_000);
    expect(states(a.events, "j1")).toEqual(["CREATED", "RUNNING"]);
    const [reset] = a.events.of("registry-reset");
    expect(reset).toMatchObject({ epoch: epochOf(a) });
    const granted = a.times.get(a.events.of("granted")[0]!)!;
    expect(a.times.get(reset!)! - granted).toBeGreaterThanOrEqual(200 - 30 - 5);
    expect(a.times.get(a.events.of("task-deployed")[0]!)!).toBeGreaterThanOrEqual(a.times.get(reset!)!);
    const entry = await a.core.haBackend.store.get("taskmanagers");
    expect(codecs.TaskManagerRegistry.decode(entry!.value)).toMatchObject({
      taskmanagerIds: ["tm-1"],
      taskLeaseMs: 200,
    });
  });
});

describe("resigning", () => {
  it("returns promptly while the grant is still recovering against an unreachable store", async () => {
    cluster = new TestCluster();
    const c = cluster;
    const a = await c.startJobManager("jm-a", {
      // The store goes away right as the grant begins: recovery retries until the session deadline (~1 s).
      onEvent: (e) => {
        if (e.event === "granted")
          (c.jobManagers.get("jm-a:6123")!.core.haBackend as MemoryHaBackend).partition();
      },
    });
    await waitUntil(() => a.events.of("granted").length === 1);
    const started = monotonicNow();
    await a.core.resign();
    expect(monotonicNow() - started).toBeLessThan(400);
    expect(a.events.of("revoked")).toHaveLength(1);
    expect(a.events.of("published")).toEqual([]);
  });
});
