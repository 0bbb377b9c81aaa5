import { afterEach, describe, expect, it } from "vitest";
import { codecs } from "../generated/records.ts";
import { waitUntil } from "../ha/testing.ts";
import { TestCluster, type TestJobManager, testGraph, waitUntilAsync } from "./testing.ts";

let cluster: TestCluster;

afterEach(async () => {
  await cluster?.close();
});

const fixedDelay = (attempts: number) => ({
  restartStrategy: { type: "fixed-delay", attempts, delayMs: 20 },
});
const states = (jm: TestJobManager, job: string): string[] =>
  jm.events
    .of("job-state")
    .filter((e) => e.job === job)
    .map((e) => String(e.state));

async function start(taskManagers: Array<[string, number]>): Promise<TestJobManager> {
  cluster = new TestCluster();
  const jm = await cluster.startJobManager("jm-a");
  await waitUntil(() => jm.events.of("published").length === 1);
  for (const [id, slots] of taskManagers) await cluster.startTaskManager(id, slots);
  await waitUntil(() => jm.events.of("taskmanager-registered").length === taskManagers.length);
  return jm;
}

describe("JobMaster: failures and restarts", () => {
  it("a TaskManager that stops heartbeating is dropped, its tasks fail, and the job restarts on another TaskManager", async () => {
    const jm = await start([
      ["tm-1", 2],
      ["tm-2", 2],
    ]);
    await jm.core.dispatcher.submitJob({ graph: testGraph("j1", 2, fixedDelay(3)) });
    await waitUntil(() => states(jm, "j1").includes("RUNNING"));
    // Spread over both TaskManagers.
    expect(new Set(jm.events.of("task-deployed").map((e) => e.taskmanager))).toEqual(
      new Set(["tm-1", "tm-2"]),
    );
    const tm1 = cluster.taskManagers.get("tm-1:7000")!;
    const tm2 = cluster.taskManagers.get("tm-2:7000")!;
    await tm1.kill();
    await waitUntil(() => jm.events.of("taskmanager-lost").length === 1, 2_000);
    expect(jm.events.of("taskmanager-lost")[0]).toMatchObject({
      taskmanager: "tm-1",
      reason: expect.stringMatching(/no heartbeat/),
    });
    await waitUntil(() => states(jm, "j1").filter((s) => s === "RUNNING").length === 2, 2_000);
    expect(states(jm, "j1")).toEqual(["CREATED", "RUNNING", "RESTARTING", "RUNNING"]);
    // The surviving task of attempt 0 was cancelled; attempt 1 runs entirely on tm-2.
    const attempt1 = jm.events.of("task-deployed").filter((e) => e.attempt === 1);
    expect(attempt1.map((e) => e.taskmanager)).toEqual(["tm-2", "tm-2"]);
    expect(tm2.running().every((id) => id.includes("/1@"))).toBe(true);
    expect(tm2.running()).toHaveLength(2);
    const job = await jm.core.dispatcher.getJob({ jobId: "j1" });
    expect(job.summary).toMatchObject({
      restarts: 1,
      runningTasks: 2,
      error: expect.stringMatching(/tm-1 lost/),
    });
    expect(job.tasks.map((t) => t.attempt)).toEqual([1, 1]);
    // The lost TaskManager is no longer listed in the registry.
    const registry = codecs.TaskManagerRegistry.decode(
      (await jm.core.haBackend.store.get("taskmanagers"))!.value,
    );
    expect(registry.taskmanagerIds).toEqual(["tm-2"]);
  });

  it("fixed-delay restarts as often as allowed, then the job FAILS, its result is recorded and its graph removed", async () => {
    const jm = await start([["tm-1", 2]]);
    const tm = cluster.taskManagers.get("tm-1:7000")!;
    await jm.core.dispatcher.submitJob({ graph: testGraph("j1", 1, fixedDelay(1)) });
    await waitUntil(() => tm.running().length === 1);
    tm.fail(tm.running()[0]!, "boom 1");
    await waitUntil(() => states(jm, "j1").filter((s) => s === "RUNNING").length === 2);
    tm.fail(tm.running()[0]!, "boom 2");
    await waitUntil(() => states(jm, "j1").includes("FAILED"));
    expect(states(jm, "j1")).toEqual(["CREATED", "RUNNING", "RESTARTING", "RUNNING", "FAILED"]);
    const store = jm.core.haBackend.store;
    await waitUntilAsync(async () => (await store.get("jobgraphs/j1")) === undefined);
    const result = codecs.JobResult.decode((await store.get("job-results/j1"))!.value);
    expect(result).toMatchObject({
      status: "JOB_STATUS_FAILED",
      state: "JOB_RESULT_STATE_CLEAN",
      error: expect.stringMatching(/boom 2/),
    });
    const jobs = await jm.core.dispatcher.listJobs({});
    expect(jobs.jobs).toEqual([
      expect.objectContaining({ jobId: "j1", name: "job j1", state: "JOB_STATE_FAILED", restarts: 1 }),
    ]);
  });

  it("restart strategy none fails the job at the first task failure", async () => {
    const jm = await start([["tm-1", 2]]);
    const tm = cluster.taskManagers.get("tm-1:7000")!;
    await jm.core.dispatcher.submitJob({ graph: testGraph("j1", 2) });
    await waitUntil(() => tm.running().length === 2);
    tm.fail(tm.running()[0]!);
    await waitUntil(() => states(jm, "j1").includes("FAILED"));
    expect(states(jm, "j1")).toEqual(["CREATED", "RUNNING", "FAILED"]);
    // The other task was cancelled before the job was recorded as failed.
    expect(tm.running()).toEqual([]);
    expect(jm.events.of("task-deployed")).toHaveLength(2);
  });

  it("a cancel during the restart delay ends the job CANCELED without another deployment", async () => {
    const jm = await start([["tm-1", 2]]);
    const tm = cluster.taskManagers.get("tm-1:7000")!;
    await jm.core.dispatcher.submitJob({
      graph: testGraph("j1", 1, { restartStrategy: { type: "fixed-delay", attempts: 5, delayMs: 5_000 } }),
    });
    await waitUntil(() => tm.running().length === 1);
    tm.fail(tm.running()[0]!);
    await waitUntil(() => states(jm, "j1").includes("RESTARTING"));
    expect(await jm.core.dispatcher.cancelJob({ jobId: "j1" })).toEqual({ state: "JOB_STATE_CANCELED" });
    await waitUntil(() => states(jm, "j1").includes("CANCELED"));
    expect(jm.events.of("task-deployed")).toHaveLength(1);
  });
});
