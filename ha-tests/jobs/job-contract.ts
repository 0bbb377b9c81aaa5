// JobManagers and TaskManagers as real processes against a real etcd or ZooKeeper: submission, leader kills,
// recovery, fencing of a deposed leader's commands, terminal jobs, TaskManager loss and bad input. The same
// suite runs on every backend (etcd-jobs.test.ts, zookeeper-jobs.test.ts).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../src/client/cluster-client.ts";
import type { VigilError } from "../../src/common/errors.ts";
import { silentLogger } from "../../src/common/logger.ts";
import { compileHaConfig } from "../../src/config/ha-config.ts";
import type { JobGraph } from "../../src/generated/records.ts";
import { TaskExecutorMethods, type TaskExecutorService } from "../../src/generated/services.ts";
import { subtaskOverlaps } from "../../src/local/overlaps.ts";
import { spawnVigil, type VigilEvent } from "../../src/local/processes.ts";
import { LocalCluster, type Member } from "../../src/local/vigil-cluster.ts";
import { createClient } from "../../src/rpc/client.ts";

const TTL_S = 2;
const FAILOVER_MS = TTL_S * 1000 + 15_000;

const epochOf = (e: VigilEvent): bigint => BigInt(String(e["epoch"]));
const isState = (job: string, state: string, epoch?: bigint) => (e: VigilEvent) =>
  e["event"] === "job-state" &&
  e["job"] === job &&
  e["state"] === state &&
  (epoch === undefined || epochOf(e) === epoch);

function job(id: string, options: { count?: number; rate?: number; parallelism?: number } = {}): JobGraph {
  const parallelism = options.parallelism ?? 2;
  return {
    version: 1,
    jobId: id,
    name: id,
    vertices: [
      {
        id: "numbers",
        name: "numbers",
        operatorKind: "source.sequence",
        parallelism,
        configJson: JSON.stringify({ count: options.count ?? 0, ratePerSecond: options.rate ?? 20 }),
      },
      { id: "out", name: "out", operatorKind: "sink.discard", parallelism, configJson: "{}" },
    ],
    edges: [{ source: "numbers", target: "out", partitioning: "PARTITIONING_FORWARD" }],
    configJson: JSON.stringify({ restartStrategy: { type: "fixed-delay", attempts: 1000, delayMs: 100 } }),
  };
}

export function describeJobs(backend: "etcd" | "zookeeper"): void {
  describe(`JobManagers and TaskManagers on ${backend}`, () => {
    let cluster: LocalCluster;
    let client: ClusterClient;
    /** The current leader, updated by every failover below. */
    let leader: { member: Member; epoch: bigint };

    beforeAll(async () => {
      cluster = await LocalCluster.start({
        backend,
        jobmanagers: 3,
        taskmanagers: 2,
        slots: 2,
        ttlSeconds: TTL_S,
      });
      leader = cluster.firstLeader;
      client = ClusterClient.viaHa(
        compileHaConfig({ backend, endpoints: cluster.endpoints, clusterId: cluster.clusterId }),
        silentLogger,
      );
    });

    afterAll(async () => {
      await client?.close();
      await cluster?.stop();
    });

    const taskManagerLogs = () =>
      cluster.taskmanagers.map((m) => ({
        name: m.name,
        events: m.proc.events,
        exitedAt: cluster.exitedAt(m),
      }));

    /** SIGKILLs the leader, starts a replacement JobManager, waits for the next leader and registrations. */
    async function failover(): Promise<void> {
      const old = leader;
      await cluster.kill(old.member);
      cluster.startJobManager();
      const next = await cluster.waitForLeader(old.epoch, FAILOVER_MS);
      expect(next.epoch).toBeGreaterThan(old.epoch);
      await cluster.waitForRegistrations(next.epoch, 5_000);
      leader = next;
    }

    it("runs a submitted job, and after each of five leader kills the next leader recovers and runs it again", async () => {
      const ack = await client.submitJob({ graph: job("always-on") });
      expect(ack.jobId).toBe("always-on");
      await leader.member.proc.waitForEvent(isState("always-on", "RUNNING", leader.epoch), 15_000);
      for (let kill = 1; kill <= 5; kill++) {
        await failover();
        await leader.member.proc.waitForEvent(
          (e) => e["event"] === "job-recovered" && e["job"] === "always-on",
          5_000,
        );
        await leader.member.proc.waitForEvent(isState("always-on", "RUNNING", leader.epoch), 15_000);
      }
      const listed = await client.listJobs({});
      expect(listed.jobs.map((j) => [j.jobId, j.state])).toContainEqual(["always-on", "JOB_STATE_RUNNING"]);
      // No subtask ever ran on two TaskManagers (or twice on one) at the same time.
      expect(subtaskOverlaps(taskManagerLogs())).toEqual([]);
    });

    it("SIGTERM: the leader resigns, drains and exits 0, and a standby takes over well within the TTL", async () => {
      const old = leader;
      const stoppedAt = performance.now();
      old.member.proc.kill("SIGTERM");
      const next = await cluster.waitForLeader(old.epoch, FAILOVER_MS);
      const handover = performance.now() - stoppedAt;
      expect(await old.member.proc.exited()).toEqual({ code: 0, signal: null });
      // Resigning deletes the campaign key at once: no waiting out the lease (a generous bound for CI).
      expect(handover).toBeLessThan(TTL_S * 1000);
      await cluster.waitForRegistrations(next.epoch, 5_000);
      await next.member.proc.waitForEvent(isState("always-on", "RUNNING", next.epoch), 15_000);
      leader = next;
      cluster.startJobManager();
      expect(subtaskOverlaps(taskManagerLogs())).toEqual([]);
    });

    it("a TaskManager refuses a command replayed from a deposed leader, naming both epochs", async () => {
      const deposed = leader;
      const deployed = deposed.member.proc.events.find(
        (e) => e["event"] === "task-deployed" && epochOf(e) === deposed.epoch,
      );
      expect(deployed).toBeDefined();
      await failover();
      const tm = cluster.taskmanagers.find((m) => m.name === deployed!["taskmanager"])!;
      const registered = tm.proc.events.findLast((e) => e["event"] === "taskmanager-started");
      const executor = createClient<TaskExecutorService>(TaskExecutorMethods, String(registered!["address"]));
      try {
        const replay = executor.cancelTask({
          epoch: deposed.epoch,
          executionId: String(deployed!["execution"]),
        });
        const error = (await replay.then(
          () => undefined,
          (e: unknown) => e,
        )) as VigilError | undefined;
        expect(error?.code).toBe("STALE_EPOCH");
        expect(error?.message).toContain(String(deposed.epoch));
        expect(error?.message).toContain(String(leader.epoch));
      } finally {
        executor.close();
      }
      await tm.proc.waitForEvent(
        (e) => e["event"] === "command-rejected" && epochOf(e) === deposed.epoch,
        5_000,
      );
    });

    it("a leader frozen past its TTL wakes deposed: it commands nothing, and no TaskManager runs anything of its epoch", async () => {
      const frozen = leader;
      // Nothing in flight: a deploy sent before the freeze may legitimately complete after it.
      await frozen.member.proc.waitForEvent(isState("always-on", "RUNNING", frozen.epoch), 15_000);
      const mark = frozen.member.proc.events.length;
      const tmMarks = cluster.taskmanagers.map((m) => m.proc.events.length);
      frozen.member.proc.pause();
      try {
        const next = await cluster.waitForLeader(frozen.epoch, FAILOVER_MS);
        await cluster.waitForRegistrations(next.epoch, 5_000);
        await next.member.proc.waitForEvent(isState("always-on", "RUNNING", next.epoch), 15_000);
        leader = next;
      } finally {
        frozen.member.proc.resume();
      }
      await frozen.member.proc.waitForEvent((e, i) => i >= mark && e["event"] === "revoked", 10_000);
      // Give a zombie time to try something, then look: nothing deployed, nothing of its epoch running.
      await new Promise((r) => setTimeout(r, 1_000));
      expect(frozen.member.proc.events.slice(mark).filter((e) => e["event"] === "task-deployed")).toEqual([]);
      cluster.taskmanagers.forEach((tm, i) => {
        const after = tm.proc.events.slice(tmMarks[i]);
        const registered = after.findIndex((e) => e["event"] === "registered" && epochOf(e) === leader.epoch);
        if (registered < 0) return; // a TaskManager started later, or killed
        const stale = after
          .slice(registered)
          .filter((e) => e["event"] === "task-running" && epochOf(e) <= frozen.epoch);
        expect(stale).toEqual([]);
      });
      expect(subtaskOverlaps(taskManagerLogs())).toEqual([]);
    });

    it("a finished job is not run again after failover, and a cancelled one stays cancelled", async () => {
      await client.submitJob({ graph: job("finite", { count: 100, rate: 1000 }) });
      await client.submitJob({ graph: job("doomed") });
      await leader.member.proc.waitForEvent(isState("finite", "FINISHED", leader.epoch), 15_000);
      await leader.member.proc.waitForEvent(isState("doomed", "RUNNING", leader.epoch), 15_000);
      const cancelled = await client.cancelJob({ jobId: "doomed" });
      expect(["JOB_STATE_CANCELLING", "JOB_STATE_CANCELED"]).toContain(cancelled.state);
      await leader.member.proc.waitForEvent(isState("doomed", "CANCELED", leader.epoch), 10_000);

      await failover();
      // The new leader runs the long-running job again, which proves it recovered; the terminal ones never.
      await leader.member.proc.waitForEvent(isState("always-on", "RUNNING", leader.epoch), 15_000);
      const deployedNow = leader.member.proc.events
        .filter((e) => e["event"] === "task-deployed")
        .map((e) => e["job"]);
      expect(deployedNow).not.toContain("finite");
      expect(deployedNow).not.toContain("doomed");
      const states = Object.fromEntries((await client.listJobs({})).jobs.map((j) => [j.jobId, j.state]));
      expect(states["finite"]).toBe("JOB_STATE_FINISHED");
      expect(states["doomed"]).toBe("JOB_STATE_CANCELED");
      // Resubmitting a terminal job is refused: a job with a result never runs again.
      await expect(client.submitJob({ graph: job("finite", { count: 100, rate: 1000 }) })).rejects.toThrow(
        /finite/,
      );
    });

    it("redeploys the tasks of a killed TaskManager on free slots", async () => {
      const spare = cluster.startTaskManager();
      await spare.proc.waitForEvent(
        (e) => e["event"] === "registered" && epochOf(e) === leader.epoch,
        10_000,
      );
      await client.submitJob({ graph: job("survivor") });
      await leader.member.proc.waitForEvent(isState("survivor", "RUNNING", leader.epoch), 15_000);
      const running = leader.member.proc.events.filter(
        (e) => e["event"] === "task-deployed" && e["job"] === "survivor" && epochOf(e) === leader.epoch,
      );
      const victimName = String(running.at(-1)!["taskmanager"]);
      const victim = cluster.taskmanagers.find((m) => m.name === victimName)!;
      const mark = leader.member.proc.events.length;
      await cluster.kill(victim);
      await leader.member.proc.waitForEvent(
        (e, i) => i >= mark && e["event"] === "taskmanager-lost" && e["taskmanager"] === victimName,
        10_000,
      );
      await leader.member.proc.waitForEvent(
        (e, i) => i >= mark && isState("survivor", "RUNNING", leader.epoch)(e),
        15_000,
      );
      const redeployed = leader.member.proc.events
        .slice(mark)
        .filter((e) => e["event"] === "task-deployed" && e["job"] === "survivor");
      expect(redeployed.length).toBe(2);
      expect(redeployed.map((e) => e["taskmanager"])).not.toContain(victimName);
      expect(subtaskOverlaps(taskManagerLogs())).toEqual([]);
    });

    it.each([
      ["a cycle", "cycle", { edges: "cycle" }],
      ["an unknown operator", "source\\.nope.* is unknown; known kinds", { operator: "source.nope" }],
      ["parallelism 0", "vertices\\[0\\]\\.parallelism: must be an integer ≥ 1", { parallelism: 0 }],
      ["a graph over the size limit", "limit", { padding: 2_000_000 }],
      ["a malformed file", "JSON", { malformed: true }],
    ])("refuses %s at submit with a clear error and stores nothing", async (_what, message, bad) => {
      const file = join(cluster.storageDir, `bad-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(file, badJobFile(bad));
      const before = (await client.listJobs({})).jobs.length;
      const submit = spawnVigil(["submit", file, ...cluster.haArgs()]);
      const { code } = await submit.exited();
      expect(code).not.toBe(0);
      expect(submit.stderr()).toMatch(new RegExp(message, "i"));
      expect(submit.stderr()).not.toMatch(/\n\s+at /); // no stack trace
      expect((await client.listJobs({})).jobs.length).toBe(before);
    });
  });
}

function badJobFile(bad: {
  edges?: string;
  operator?: string;
  parallelism?: number;
  padding?: number;
  malformed?: boolean;
}): string {
  if (bad.malformed) return '{"name": "broken", "vertices": [';
  const vertices = [
    {
      id: "a",
      operator: bad.operator ?? "source.sequence",
      parallelism: bad.parallelism ?? 1,
      config: { count: 10 },
    },
    { id: "b", operator: "sink.discard", parallelism: 1, config: {} },
  ];
  const edges = [{ source: "a", target: "b", partitioning: "forward" }];
  if (bad.edges === "cycle") edges.push({ source: "b", target: "a", partitioning: "forward" });
  const graph: Record<string, unknown> = { name: "bad", vertices, edges };
  if (bad.padding) (vertices[1] as Record<string, unknown>)["name"] = "x".repeat(bad.padding);
  return JSON.stringify(graph);
}
