import { afterEach, describe, expect, it } from "vitest";
import { AlreadyExistsError, InvalidArgumentError, NotFoundError, NotLeaderError } from "../common/errors.ts";
import { codecs } from "../generated/records.ts";
import { clusterRoot } from "../ha/keys.ts";
import { waitUntil } from "../ha/testing.ts";
import { TestCluster, type TestJobManager, testGraph, waitUntilAsync } from "./testing.ts";

let cluster: TestCluster;

afterEach(async () => {
  await cluster?.close();
});

const stateOf = (jm: TestJobManager, job: string): string[] =>
  jm.events
    .of("job-state")
    .filter((e) => e.job === job)
    .map((e) => String(e.state));

async function leaderWithTaskManager(): Promise<TestJobManager> {
  cluster = new TestCluster();
  const jm = await cluster.startJobManager("jm-a");
  await waitUntil(() => jm.events.of("published").length === 1);
  await cluster.startTaskManager("tm-1", 4);
  await waitUntil(() => jm.events.of("taskmanager-registered").length === 1);
  return jm;
}

describe("Dispatcher: submission, finish, cancel", () => {
  it("stores the graph before it acknowledges, deploys, runs, and on finish records the result and cleans up", async () => {
    const jm = await leaderWithTaskManager();
    const stores = jm.core.haBackend.store;
    const answer = await jm.core.dispatcher.submitJob({ graph: testGraph("j1", 2) });
    expect(answer).toMatchObject({ jobId: "j1", alreadySubmitted: false });
    expect(await stores.get("jobgraphs/j1")).toBeDefined();
    const epoch = jm.events.of("granted")[0]!.epoch;
    expect(answer.epoch).toBe(epoch);
    expect(jm.events.of("job-submitted")).toEqual([{ event: "job-submitted", job: "j1", epoch }]);

    const tm = cluster.taskManagers.get("tm-1:7000")!;
    await waitUntil(() => stateOf(jm, "j1").includes("RUNNING"));
    const deployed = jm.events.of("task-deployed");
    expect(deployed.map((e) => e.execution).sort()).toEqual([`j1/src/0/0@${epoch}`, `j1/src/1/0@${epoch}`]);
    expect(deployed[0]).toMatchObject({ job: "j1", vertex: "src", attempt: 0, taskmanager: "tm-1", epoch });
    // The fake reports RUNNING before its deploy answer arrives; the job is RUNNING only after both deploys.
    const runningAt = jm.events.all.findIndex((e) => e.event === "job-state" && e.state === "RUNNING");
    expect(deployed.every((e) => jm.events.all.indexOf(e) < runningAt)).toBe(true);
    expect(tm.running()).toHaveLength(2);
    const overview = await jm.core.dispatcher.clusterOverview({});
    expect(overview.leader).toEqual({ name: "jm-a", address: jm.address, epoch });
    expect(overview.taskmanagers).toEqual([{ id: "tm-1", address: "tm-1:7000", slots: 4, freeSlots: 2 }]);
    expect(overview.jobs[0]).toMatchObject({
      jobId: "j1",
      name: "job j1",
      state: "JOB_STATE_RUNNING",
      tasks: 2,
      runningTasks: 2,
    });
    // The registry lists the TaskManager before the first deployment to it.
    expect(await stores.get("taskmanagers")).toBeDefined();

    for (const id of tm.running()) tm.finish(id);
    await waitUntil(() => stateOf(jm, "j1").includes("FINISHED"));
    await waitUntilAsync(async () => (await stores.get("jobgraphs/j1")) === undefined);
    const result = codecs.JobResult.decode((await stores.get("job-results/j1"))!.value);
    expect(result).toMatchObject({
      jobId: "j1",
      status: "JOB_STATUS_FINISHED",
      state: "JOB_RESULT_STATE_CLEAN",
    });
    expect(stateOf(jm, "j1")).toEqual(["CREATED", "RUNNING", "FINISHED"]);
    const details = await jm.core.dispatcher.getJob({ jobId: "j1" });
    expect(details.summary).toMatchObject({ state: "JOB_STATE_FINISHED", name: "job j1" });

    // A job with a result never runs again.
    await expect(jm.core.dispatcher.submitJob({ graph: testGraph("j1", 2) })).rejects.toThrow(
      /job j1 already reached FINISHED; a job with a result never runs again/,
    );
  });

  it("answers a retried submission idempotently and refuses a different graph under the same id", async () => {
    const jm = await leaderWithTaskManager();
    await jm.core.dispatcher.submitJob({ graph: testGraph("j1", 1) });
    expect(await jm.core.dispatcher.submitJob({ graph: testGraph("j1", 1) })).toMatchObject({
      alreadySubmitted: true,
    });
    const different = jm.core.dispatcher.submitJob({ graph: testGraph("j1", 3) });
    await expect(different).rejects.toBeInstanceOf(AlreadyExistsError);
    await expect(different).rejects.toThrow(/different JobGraph/);
    expect(jm.events.of("job-submitted")).toHaveLength(1);
  });

  it("refuses an invalid graph and stores nothing", async () => {
    const jm = await leaderWithTaskManager();
    const store = jm.core.haBackend.store;
    const bad = {
      ...testGraph("j1"),
      edges: [{ source: "src", target: "nowhere", partitioning: "PARTITIONING_FORWARD" as const }],
    };
    await expect(jm.core.dispatcher.submitJob({ graph: bad })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(jm.core.dispatcher.submitJob({})).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(jm.core.dispatcher.submitJob({ graph: testGraph("bad/id") })).rejects.toThrow(/job id/);
    expect(await store.list("jobgraphs")).toEqual([]);
    expect(jm.events.of("job-submitted")).toEqual([]);
  });

  it("cancel records the result before it answers, then cancels the tasks and cleans up", async () => {
    const jm = await leaderWithTaskManager();
    const store = jm.core.haBackend.store;
    const tm = cluster.taskManagers.get("tm-1:7000")!;
    await jm.core.dispatcher.submitJob({ graph: testGraph("j1", 2) });
    await waitUntil(() => tm.running().length === 2);
    const running = tm.running();
    // At the instant each cancel command arrives, the CANCELED result is already stored.
    const resultAtCancel: boolean[] = [];
    const resultKey = `${clusterRoot(cluster.ha.clusterId)}/job-results/j1`;
    tm.onCommand = (c) => {
      if (c.kind === "cancel") resultAtCancel.push(cluster.coordinator.get(resultKey) !== undefined);
    };
    expect(await jm.core.dispatcher.cancelJob({ jobId: "j1" })).toEqual({ state: "JOB_STATE_CANCELED" });
    expect(await store.get("job-results/j1")).toBeDefined();
    await waitUntil(() => stateOf(jm, "j1").includes("CANCELED"));
    expect(stateOf(jm, "j1")).toEqual(["CREATED", "RUNNING", "CANCELLING", "CANCELED"]);
    expect(
      tm.commands
        .filter((c) => c.kind === "cancel")
        .map((c) => c.executionId)
        .sort(),
    ).toEqual(running.sort());
    expect(tm.running()).toEqual([]);
    expect(resultAtCancel).toEqual([true, true]);
    await waitUntilAsync(async () => (await store.get("jobgraphs/j1")) === undefined);
    const result = codecs.JobResult.decode((await store.get("job-results/j1"))!.value);
    expect(result).toMatchObject({ status: "JOB_STATUS_CANCELED", state: "JOB_RESULT_STATE_CLEAN" });
    // A cancelled job answers its terminal state, and never runs again.
    expect(await jm.core.dispatcher.cancelJob({ jobId: "j1" })).toEqual({ state: "JOB_STATE_CANCELED" });
    await expect(jm.core.dispatcher.submitJob({ graph: testGraph("j1", 2) })).rejects.toThrow(
      /already reached CANCELED/,
    );
    await expect(jm.core.dispatcher.cancelJob({ jobId: "nope" })).rejects.toBeInstanceOf(NotFoundError);
  });

  it("waits in CREATED until enough slots are free", async () => {
    const jm = await leaderWithTaskManager();
    await jm.core.dispatcher.submitJob({ graph: testGraph("big", 6) });
    await new Promise((r) => setTimeout(r, 100));
    expect(stateOf(jm, "big")).toEqual(["CREATED"]);
    expect(jm.events.of("task-deployed")).toEqual([]);
    await cluster.startTaskManager("tm-2", 2);
    await waitUntil(() => stateOf(jm, "big").includes("RUNNING"));
    expect(new Set(jm.events.of("task-deployed").map((e) => e.taskmanager))).toEqual(
      new Set(["tm-1", "tm-2"]),
    );
  });
});

describe("Dispatcher on a standby", () => {
  it("answers NotLeaderError with the leader's address, and GetLeader with the leader", async () => {
    const a = await leaderWithTaskManager();
    const b = await cluster.startJobManager("jm-b");
    await waitUntil(() => b.events.of("jobmanager-started").length === 1);
    const submit = b.core.dispatcher.submitJob({ graph: testGraph("j1") });
    await expect(submit).rejects.toBeInstanceOf(NotLeaderError);
    await expect(submit).rejects.toMatchObject({ leaderAddress: a.address });
    await expect(b.core.dispatcher.listJobs({})).rejects.toBeInstanceOf(NotLeaderError);
    await expect(
      b.core.resourceManager.registerTaskManager({ taskmanagerId: "x", address: "x:1", slots: 1, epoch: 1n }),
    ).rejects.toMatchObject({ leaderAddress: a.address });
    expect(await b.core.dispatcher.getLeader({})).toMatchObject({ name: "jm-a", address: a.address });
    expect(await a.core.dispatcher.getLeader({})).toMatchObject({ name: "jm-a", address: a.address });
  });
});
