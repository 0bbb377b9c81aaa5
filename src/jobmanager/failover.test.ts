import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../common/logger.ts";
import { codecs } from "../generated/records.ts";
import { LeaderElectionService } from "../ha/leader-election-service.ts";
import { MemoryHaBackend } from "../ha/memory/index.ts";
import { RecordingContender, waitUntil } from "../ha/testing.ts";
import { TestCluster, type TestJobManager, testGraph } from "./testing.ts";

let cluster: TestCluster;

afterEach(async () => {
  await cluster?.close();
});

const states = (jm: TestJobManager, job: string): string[] =>
  jm.events
    .of("job-state")
    .filter((e) => e.job === job)
    .map((e) => String(e.state));
const epochOf = (jm: TestJobManager): bigint => jm.events.of("granted").at(-1)!.epoch as bigint;
const published = (jm: TestJobManager): boolean => jm.events.of("published").length > 0;

/** Leader a runs job j1 (parallelism 2) on tm-1; b is a standby. */
async function runningOnOneTaskManager(options: { heartbeatTimeoutMs?: number } = {}) {
  cluster = new TestCluster(options);
  const a = await cluster.startJobManager("jm-a");
  await waitUntil(() => published(a));
  const tm1 = await cluster.startTaskManager("tm-1", 2);
  await waitUntil(() => tm1.registeredEpoch === epochOf(a));
  await a.core.dispatcher.submitJob({
    graph: testGraph("j1", 2, { restartStrategy: { type: "fixed-delay", attempts: 3, delayMs: 10 } }),
  });
  await waitUntil(() => tm1.running().length === 2);
  const tm2 = await cluster.startTaskManager("tm-2", 2);
  await waitUntil(() => tm2.registeredEpoch === epochOf(a));
  const b = await cluster.startJobManager("jm-b");
  return { a, b, tm1, tm2 };
}

describe("failover between two JobManagers", () => {
  it("the new leader recovers the job and deploys only once every listed TaskManager re-registered", async () => {
    const { a, b, tm1 } = await runningOnOneTaskManager({ heartbeatTimeoutMs: 2_000 });
    const epochA = epochOf(a);
    tm1.registerDelayMs = 150;
    await a.core.close();
    await waitUntil(() => published(b), 2_000);
    const epochB = epochOf(b);
    expect(epochB).toBeGreaterThan(epochA);
    expect(b.events.of("job-recovered")).toEqual([{ event: "job-recovered", job: "j1", epoch: epochB }]);
    await waitUntil(() => states(b, "j1").includes("RUNNING"), 2_000);
    const all = b.events.all;
    const tm1Registered = all.findIndex(
      (e) => e.event === "taskmanager-registered" && e.taskmanager === "tm-1",
    );
    const tm2Registered = all.findIndex(
      (e) => e.event === "taskmanager-registered" && e.taskmanager === "tm-2",
    );
    const firstDeploy = all.findIndex((e) => e.event === "task-deployed");
    // tm-2 had free slots first, but tm-1 is listed in the registry: nothing is deployed before it is back.
    expect(tm2Registered).toBeGreaterThanOrEqual(0);
    expect(tm2Registered).toBeLessThan(tm1Registered);
    expect(tm1Registered).toBeLessThan(firstDeploy);
    // ... and it was the re-registration, not the lease timeout (1.97 s), that let it deploy.
    expect(b.times.get(all[firstDeploy]!)! - b.times.get(b.events.of("granted")[0]!)!).toBeLessThan(1_500);
    expect(tm1.running(epochA)).toEqual([]);
    expect(tm1.running(epochB).length + cluster.taskManagers.get("tm-2:7000")!.running(epochB).length).toBe(
      2,
    );
  });

  it("deploys a recovered job once the task leases ran out when a listed TaskManager never comes back", async () => {
    const { a, b, tm1, tm2 } = await runningOnOneTaskManager();
    await tm1.kill();
    await a.core.close(); // before a's heartbeat timeout could unlist tm-1
    await waitUntil(() => published(b), 2_000);
    const epochB = epochOf(b);
    await waitUntil(() => states(b, "j1").includes("RUNNING"), 2_000);
    const granted = b.times.get(b.events.of("granted")[0]!)!;
    const firstDeploy = b.times.get(b.events.of("task-deployed")[0]!)!;
    // heartbeat timeout 200 ms - safety margin 30 ms after the grant.
    expect(firstDeploy - granted).toBeGreaterThanOrEqual(165);
    expect(tm2.running(epochB)).toHaveLength(2);
    const registry = codecs.TaskManagerRegistry.decode(
      (await b.core.haBackend.store.get("taskmanagers"))!.value,
    );
    expect(registry.taskmanagerIds).toEqual(["tm-2"]);
  });

  it("a revoked leader sends no command after its revoke", async () => {
    const { a, b, tm1, tm2 } = await runningOnOneTaskManager();
    const epochA = epochOf(a);
    (a.core.haBackend as MemoryHaBackend).expireSessions();
    await waitUntil(() => a.events.of("revoked").length === 1);
    const mark = cluster.mark();
    // Things that would make a live leader send commands: a failing task, heartbeats reporting tasks.
    for (const id of tm1.running(epochA)) tm1.fail(id);
    await waitUntil(() => published(b), 2_000);
    const epochB = epochOf(b);
    await waitUntil(() => states(b, "j1").includes("RUNNING"), 2_000);
    await new Promise((r) => setTimeout(r, 150));
    const late = [...tm1.commands, ...tm2.commands].filter((c) => c.epoch === epochA && c.seq > mark);
    expect(late).toEqual([]);
    expect([...tm1.commands, ...tm2.commands].some((c) => c.epoch === epochB && c.kind === "deploy")).toBe(
      true,
    );
    expect(a.events.of("task-deployed").every((e) => e.epoch === epochA)).toBe(true);
    await expect(a.core.dispatcher.listJobs({})).rejects.toMatchObject({ code: "NOT_LEADER" });
  });

  it("a job whose stored graph is corrupt does not block the recovery of another job", async () => {
    const { a, b } = await runningOnOneTaskManager();
    // Garbage under jobgraphs/bad, written through the store with a (diagnostic) leader session as fence.
    const writer = new MemoryHaBackend(cluster.coordinator, cluster.ha);
    const election = new LeaderElectionService(
      writer.createElectionDriver("diagnostic"),
      "writer",
      silentLogger,
    );
    const contender = new RecordingContender(election, "writer", "writer:0");
    await election.start(contender);
    await waitUntil(() => contender.leading);
    await writer.store.create("jobgraphs/bad", new Uint8Array([0xff, 0x01, 0x02]), contender.session!);
    await election.close();
    await writer.close();

    await a.core.close();
    await waitUntil(() => published(b), 2_000);
    const epochB = epochOf(b);
    expect(b.events.of("recovery-failed")[0]).toMatchObject({
      job: "bad",
      epoch: epochB,
      error: expect.stringMatching(/jobgraphs\/bad/),
    });
    expect(b.events.of("job-recovered")).toEqual([{ event: "job-recovered", job: "j1", epoch: epochB }]);
    await waitUntil(() => states(b, "j1").includes("RUNNING"), 2_000);
    // Retried with back-off, and listed with its error.
    await waitUntil(() => b.events.of("recovery-failed").length >= 2);
    const jobs = (await b.core.dispatcher.listJobs({})).jobs;
    expect(jobs.map((j) => [j.jobId, j.state])).toEqual([
      ["bad", "JOB_STATE_CREATED"],
      ["j1", "JOB_STATE_RUNNING"],
    ]);
    expect(jobs[0]!.error).toMatch(/recovery failed/);
  });

  it("a job cancelled under one leader stays cancelled under the next", async () => {
    const { a, b, tm1 } = await runningOnOneTaskManager();
    expect(await a.core.dispatcher.cancelJob({ jobId: "j1" })).toEqual({ state: "JOB_STATE_CANCELED" });
    await waitUntil(() => states(a, "j1").includes("CANCELED"));
    await a.core.close();
    await waitUntil(() => published(b), 2_000);
    await new Promise((r) => setTimeout(r, 250));
    expect(b.events.of("job-recovered")).toEqual([]);
    expect(b.events.of("task-deployed")).toEqual([]);
    expect(tm1.running()).toEqual([]);
    const overview = await b.core.dispatcher.clusterOverview({});
    expect(overview.jobs).toEqual([
      expect.objectContaining({ jobId: "j1", name: "", state: "JOB_STATE_CANCELED" }),
    ]);
    expect(overview.leader).toMatchObject({ name: "jm-b", epoch: epochOf(b) });
  });
});
