// vigil drill against a live local cluster on etcd: two leader kills measured and recovered, the killed
// JobManagers restarted as processes of their own (not children of the LocalCluster, so this test reaps
// them by PID), and a refusal on a cluster that has no leader.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../src/client/cluster-client.ts";
import { sleep } from "../src/common/clock.ts";
import { silentLogger } from "../src/common/logger.ts";
import { compileHaConfig } from "../src/config/ha-config.ts";
import { scanJobManagers } from "../src/drill/jobmanagers.ts";
import { isRunning } from "../src/drill/probe.ts";
import type { JobGraph } from "../src/generated/records.ts";
import { waitUntil } from "../src/ha/testing.ts";
import { spawnVigil, type VigilEvent } from "../src/local/processes.ts";
import { Registration } from "../src/local/registry.ts";
import { LocalCluster } from "../src/local/vigil-cluster.ts";

const TTL_S = 2;
const RECOVERY_S = 20;
const JOB = "drill-always-on";

/** An unbounded job: a slow sequence into a discarding sink, restarted on every failure. */
const graph: JobGraph = {
  version: 1,
  jobId: JOB,
  name: JOB,
  vertices: [
    {
      id: "numbers",
      name: "numbers",
      operatorKind: "source.sequence",
      parallelism: 2,
      configJson: JSON.stringify({ count: 0, ratePerSecond: 20 }),
    },
    { id: "out", name: "out", operatorKind: "sink.discard", parallelism: 2, configJson: "{}" },
  ],
  edges: [{ source: "numbers", target: "out", partitioning: "PARTITIONING_FORWARD" }],
  configJson: JSON.stringify({ restartStrategy: { type: "fixed-delay", attempts: 1000, delayMs: 100 } }),
};

describe("vigil drill (etcd)", () => {
  let cluster: LocalCluster;
  let client: ClusterClient;
  const logDir = mkdtempSync(join(tmpdir(), "vigil-ha-drill-logs-"));
  // The JobManagers the drill restarts outlive it; registered so that a crashed run still reaps them.
  const restarted = new Registration("JobManagers restarted by vigil drill");
  const restartedPids: number[] = [];

  beforeAll(async () => {
    cluster = await LocalCluster.start({
      backend: "etcd",
      jobmanagers: 3,
      taskmanagers: 2,
      slots: 2,
      ttlSeconds: TTL_S,
    });
    client = ClusterClient.viaHa(
      compileHaConfig({ backend: "etcd", endpoints: cluster.endpoints, clusterId: cluster.clusterId }),
      silentLogger,
    );
    await client.submitJob({ graph });
    await waitForRunning(client, 20_000);
  });

  afterAll(async () => {
    restarted.release(); // SIGKILLs what it holds
    for (const pid of restartedPids) await waitUntil(() => !isRunning(pid), 5_000, `pid ${pid} gone`);
    await client?.close();
    await cluster?.stop();
    rmSync(logDir, { recursive: true, force: true });
  });

  it("kills the leader twice, measures both failovers and restarts each killed JobManager", async () => {
    const drill = spawnVigil([
      "drill",
      ...cluster.haArgs(),
      "--kills",
      "2",
      "--mode",
      "kill",
      "--interval",
      "1",
      "--recovery-timeout",
      String(RECOVERY_S),
      "--log-dir",
      logDir,
      "--json",
    ]);
    const status = await drill.exited();
    const drills = drill.events.filter((e) => e["kind"] === "drill");
    for (const d of drills) {
      for (const r of d["restarted"] as VigilEvent[]) {
        if (typeof r["pid"] !== "number") continue;
        restartedPids.push(r["pid"]);
        restarted.addPid(r["pid"], cluster.clusterId);
      }
    }
    expect(status.code, drill.stderr()).toBe(0);
    expect(drills).toHaveLength(2);

    const times: number[][] = [];
    for (const d of drills) {
      expect(d).toMatchObject({ ok: true, recovered: true, mode: "kill", jobs: [JOB] });
      const old = d["oldLeader"] as VigilEvent;
      const next = d["newLeader"] as VigilEvent;
      expect(BigInt(String(next["epoch"]))).toBeGreaterThan(BigInt(String(old["epoch"])));
      expect(next["name"]).not.toBe(old["name"]);
      const toLeader = Number(d["timeToNewLeaderMs"]);
      const toJobs = Number(d["timeToJobsRunningMs"]);
      // A SIGKILLed leader is replaced once its lease runs out: not at once, and well within the bound.
      expect(toLeader).toBeGreaterThan(TTL_S * 1000 * 0.3);
      expect(toLeader).toBeLessThan(TTL_S * 1000 + 5_000);
      expect(toJobs).toBeGreaterThanOrEqual(toLeader);
      expect(toJobs).toBeLessThan(RECOVERY_S * 1000);
      times.push([Math.round(toLeader), Math.round(toJobs)]);
      const [restart] = d["restarted"] as VigilEvent[];
      expect(restart).toMatchObject({ name: old["name"], stoppedPid: old["pid"] });
      expect(existsSync(String(restart!["log"]))).toBe(true);
    }
    // The second drill failed the leader the first one produced.
    expect((drills[1]!["oldLeader"] as VigilEvent)["epoch"]).toBe(
      (drills[0]!["newLeader"] as VigilEvent)["epoch"],
    );
    const summary = drill.events.find((e) => e["kind"] === "summary");
    expect(summary).toMatchObject({ planned: 2, run: 2, recovered: 2, failed: 0, ok: true });
    console.info(`[drill] time to new leader / jobs running (ms): ${JSON.stringify(times)}`);

    // Three JobManagers again: the one never killed (a child of the LocalCluster) and the two restarted ones.
    expect(restartedPids).toHaveLength(2);
    await waitUntil(
      () => cluster.alive("jobmanager").length === 1,
      5_000,
      "the LocalCluster to see two exits",
    );
    const pids = scanJobManagers()
      .filter((p) => p.clusterId === cluster.clusterId)
      .map((p) => p.pid);
    expect(pids.sort()).toEqual([cluster.alive("jobmanager")[0]!.proc.pid, ...restartedPids].sort());
    // And the job still runs under whoever leads now.
    await waitForRunning(client, 10_000);
  });

  it("refuses, saying what is wrong, a cluster id with no leader and no JobManagers", async () => {
    const drill = spawnVigil([
      "drill",
      "--ha",
      "etcd",
      "--ha-endpoints",
      cluster.endpoints,
      "--cluster-id",
      "nobody-runs-here",
      "--kills",
      "1",
    ]);
    expect((await drill.exited()).code).toBe(1);
    const stderr = drill.stderr();
    expect(stderr).toMatch(/^vigil drill: refusing to drill cluster nobody-runs-here: /);
    expect(stderr).toContain("0 JobManager process(es) of cluster nobody-runs-here run on this host");
    expect(stderr).toContain("no JobManager leader is published for cluster nobody-runs-here in etcd");
    expect(drill.stdout().trim()).toBe("");
  });
});

async function waitForRunning(client: ClusterClient, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < until) {
    try {
      const answer = await client.listJobs({}, { timeoutMs: 2_000 });
      const job = answer.jobs.find((j) => j.jobId === JOB);
      if (job?.state === "JOB_STATE_RUNNING") return;
      last = `${job?.state ?? "missing"} under epoch ${answer.epoch}`;
    } catch (e: unknown) {
      last = (e as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`job ${JOB} not RUNNING within ${timeoutMs} ms: ${last}`);
}
