// Job failover: a real cluster (3 JobManagers, 2 TaskManagers × 2 slots) runs a long job; each round SIGKILLs
// the JobManager leader, starts a replacement JobManager, and times, from just before the kill, the new
// leader's `published` line, every TaskManager's `registered` line for the new epoch, and the new leader's
// `job-state RUNNING` line for the job under its epoch (every task of the job running again). All times are
// read in this process, when the line arrives, on its monotonic clock.
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { ClusterClient } from "../src/client/cluster-client.ts";
import { silentLogger } from "../src/common/logger.ts";
import { compileHaConfig } from "../src/config/ha-config.ts";
import type { JobGraph } from "../src/generated/records.ts";
import { subtaskOverlaps } from "../src/local/overlaps.ts";
import type { VigilEvent } from "../src/local/processes.ts";
import { LocalCluster, type Member } from "../src/local/vigil-cluster.ts";
import { etcdServerVersion, zooKeeperServerVersion } from "./machine.ts";
import { etcdClient } from "./raw-clients.ts";

export const JOB_FAILOVER_SHAPE = { jobmanagers: 3, taskmanagers: 2, slots: 2, parallelism: 2 } as const;
const JOB_ID = "bench-failover";
const START_TIMEOUT_MS = 60_000;
const RUNNING_TIMEOUT_MS = 30_000;

export interface JobFailoverRound {
  /** The JobManager killed and the one that took over. */
  readonly killed: string;
  readonly leader: string;
  readonly epoch: bigint;
  /** From just before the SIGKILL to the new leader's `published` line. */
  readonly publishedMs: number;
  /** … to the last TaskManager's `registered` line for the new epoch. */
  readonly registeredMs: number;
  /** … to the new leader's `job-state RUNNING` line for the job under its epoch. */
  readonly runningMs: number;
}

export interface JobFailoverResult {
  readonly backend: "etcd" | "zookeeper";
  readonly rounds: JobFailoverRound[];
  /** Things that should not happen (subtask overlaps, failed recoveries, a job that left RUNNING, …). */
  readonly anomalies: string[];
  /** Counts of noteworthy events over the whole run (rejected commands, lost TaskManagers, …). */
  readonly notes: string[];
  /** Why the loop stopped early; `rounds` then holds the completed ones. */
  readonly error?: string;
  readonly serverVersion: string;
}

export interface JobFailoverOptions {
  readonly rounds: number;
  readonly ttlSeconds: number;
  readonly progress: (line: string) => void;
  /** Polled between rounds: stop early (Ctrl-C). */
  readonly stopRequested: () => boolean;
}

/** source.sequence (unbounded, 20 records/s per subtask) → forward → sink.discard, parallelism 2. */
export function failoverJob(): JobGraph {
  const parallelism = JOB_FAILOVER_SHAPE.parallelism;
  return {
    version: 1,
    jobId: JOB_ID,
    name: JOB_ID,
    vertices: [
      {
        id: "numbers",
        name: "numbers",
        operatorKind: "source.sequence",
        parallelism,
        configJson: JSON.stringify({ count: 0, ratePerSecond: 20 }),
      },
      { id: "out", name: "out", operatorKind: "sink.discard", parallelism, configJson: "{}" },
    ],
    edges: [{ source: "numbers", target: "out", partitioning: "PARTITIONING_FORWARD" }],
    configJson: "",
  };
}

const epochOf = (e: VigilEvent): bigint => BigInt(String(e["epoch"]));
const isRunning =
  (job: string, epoch: bigint) =>
  (e: VigilEvent): boolean =>
    e["event"] === "job-state" && e["job"] === job && e["state"] === "RUNNING" && epochOf(e) === epoch;

/**
 * The arrival time (performance.now()) of every event line of the members it follows. A waiter that never
 * matches sees each event the moment it is parsed, so a time is right even when the event is looked up later.
 */
class Arrivals {
  readonly #at = new WeakMap<VigilEvent, number>();

  follow(member: Member): void {
    const stamp = (e: VigilEvent): boolean => {
      if (!this.#at.has(e)) this.#at.set(e, performance.now());
      return false;
    };
    // Ends (rejects) when the member exits; the day-long timeout only bounds a member that outlives the run.
    member.proc.waitForEvent(stamp, 86_400_000).catch(() => undefined);
  }

  /** Arrival time of `e`; throws for an event of a member that was not followed from its start. */
  of(e: VigilEvent): number {
    const t = this.#at.get(e);
    if (t === undefined) throw new Error(`no arrival time for ${JSON.stringify(e)}`);
    return t;
  }
}

export async function measureJobFailover(
  backend: "etcd" | "zookeeper",
  o: JobFailoverOptions,
): Promise<JobFailoverResult> {
  const rounds: JobFailoverRound[] = [];
  const anomalies: string[] = [];
  const notes: string[] = [];
  let error: string | undefined;
  let serverVersion = "unknown";
  let cluster: LocalCluster | undefined;
  let client: ClusterClient | undefined;
  const arrivals = new Arrivals();
  try {
    o.progress(`${backend} jobs-failover: starting ${backend}, 3 JobManagers, 2 TaskManagers × 2 slots`);
    cluster = await LocalCluster.start(
      { backend, ...JOB_FAILOVER_SHAPE, ttlSeconds: o.ttlSeconds },
      START_TIMEOUT_MS,
    );
    for (const m of cluster.members) arrivals.follow(m);
    serverVersion = await serverVersionOf(backend, cluster.coordinator.endpoints);
    client = ClusterClient.viaHa(
      compileHaConfig({ backend, endpoints: cluster.endpoints, clusterId: cluster.clusterId }),
      silentLogger,
    );
    const ack = await client.submitJob({ graph: failoverJob() }, { timeoutMs: 30_000 });
    const job = ack.jobId;
    let leader = { member: cluster.firstLeader.member, epoch: cluster.firstLeader.epoch };
    for (let round = 1; round <= o.rounds && !o.stopRequested(); round++) {
      await leader.member.proc.waitForEvent(isRunning(job, leader.epoch), RUNNING_TIMEOUT_MS);
      // A random pause, so that the kill lands at a random phase of the lease keepalives and heartbeats.
      await sleep(200 + Math.random() * 700);
      const t0 = performance.now();
      const killed = cluster.kill(leader.member);
      const replacement = cluster.startJobManager();
      arrivals.follow(replacement);
      await killed;
      const next = await cluster.waitForLeader(leader.epoch, 4 * o.ttlSeconds * 1000 + 10_000);
      const published = next.member.proc.events.find(
        (e) => e["event"] === "published" && epochOf(e) === next.epoch,
      );
      if (!published) throw new Error(`${next.member.name}: no published event for epoch ${next.epoch}`);
      const [running] = await Promise.all([
        next.member.proc.waitForEvent(isRunning(job, next.epoch), RUNNING_TIMEOUT_MS),
        cluster.waitForRegistrations(next.epoch, RUNNING_TIMEOUT_MS),
      ]);
      const registeredAt = Math.max(
        ...cluster.alive("taskmanager").map((tm) => {
          const e = tm.proc.events.find((x) => x["event"] === "registered" && epochOf(x) === next.epoch);
          if (!e) throw new Error(`${tm.name}: no registered event for epoch ${next.epoch}`);
          return arrivals.of(e);
        }),
      );
      const r: JobFailoverRound = {
        killed: leader.member.name,
        leader: next.member.name,
        epoch: next.epoch,
        publishedMs: arrivals.of(published) - t0,
        registeredMs: registeredAt - t0,
        runningMs: arrivals.of(running) - t0,
      };
      rounds.push(r);
      o.progress(
        `${backend} jobs-failover ${round}/${o.rounds}: ${r.killed} killed; ${r.leader} published after ` +
          `${secs(r.publishedMs)}, TaskManagers registered after ${secs(r.registeredMs)}, job RUNNING after ${secs(r.runningMs)} (epoch ${r.epoch})`,
      );
      leader = { member: next.member, epoch: next.epoch };
      // The replacement must be up (and campaigning) before the next kill, so there are always two standbys.
      await replacement.proc.waitForEvent((e) => e["event"] === "jobmanager-started", START_TIMEOUT_MS);
    }
    await checkFinalState(client, job, anomalies);
  } catch (e: unknown) {
    error = e instanceof Error ? e.message : String(e);
  } finally {
    if (cluster) {
      anomalies.push(...eventAnomalies(cluster));
      notes.push(...eventCounts(cluster));
    }
    await client?.close().catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
  }
  const base = { backend, rounds, anomalies, notes, serverVersion };
  return error === undefined ? base : { ...base, error };
}

async function checkFinalState(client: ClusterClient, job: string, anomalies: string[]): Promise<void> {
  try {
    const summary = (await client.getJob({ jobId: job }, { timeoutMs: 10_000 })).summary;
    if (summary?.state !== "JOB_STATE_RUNNING" || summary.runningTasks !== summary.tasks) {
      anomalies.push(`after the last round getJob says ${JSON.stringify(summary ?? null, bigintText)}`);
    }
  } catch (e: unknown) {
    anomalies.push(`getJob after the last round failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

const bigintText = (_key: string, v: unknown): unknown => (typeof v === "bigint" ? String(v) : v);

/** Overlapping runs of one subtask, failed recoveries, terminal job states: never expected here. */
function eventAnomalies(cluster: LocalCluster): string[] {
  const out = subtaskOverlaps(
    cluster.taskmanagers.map((m) => ({ name: m.name, events: m.proc.events, exitedAt: cluster.exitedAt(m) })),
  ).map((o) => `subtask overlap: ${o}`);
  for (const m of cluster.members) {
    for (const e of m.proc.events) {
      const bad =
        e["event"] === "recovery-failed" ||
        e["event"] === "error" ||
        (e["event"] === "job-state" && (e["state"] === "FAILED" || e["state"] === "CANCELED"));
      if (bad) out.push(`${m.name}: ${JSON.stringify(e)}`);
    }
  }
  return out;
}

/** How often the noteworthy-but-legal events happened over the run. */
function eventCounts(cluster: LocalCluster): string[] {
  const names = ["granted", "revoked", "taskmanager-lost", "command-rejected", "task-deployed"];
  const counts = new Map<string, number>();
  let restarting = 0;
  let leaseExpired = 0;
  let otherLeaderLost = 0;
  for (const m of cluster.members) {
    for (const e of m.proc.events) {
      const name = String(e["event"]);
      if (names.includes(name)) counts.set(name, (counts.get(name) ?? 0) + 1);
      if (name === "job-state" && e["state"] === "RESTARTING") restarting += 1;
      if (name === "leader-lost") {
        if (String(e["reason"]).startsWith("no heartbeat answered")) leaseExpired += 1;
        else otherLeaderLost += 1;
      }
    }
  }
  const parts = names.map((n) => `${n} ×${counts.get(n) ?? 0}`);
  parts.push(`job-state RESTARTING ×${restarting}`);
  parts.push(`leader-lost (task lease passed) ×${leaseExpired}`, `leader-lost (other) ×${otherLeaderLost}`);
  return [parts.join(", ")];
}

async function serverVersionOf(backend: "etcd" | "zookeeper", endpoints: readonly string[]): Promise<string> {
  if (backend === "zookeeper") return `ZooKeeper server ${await zooKeeperServerVersion(endpoints[0]!)}`;
  const etcd = etcdClient(endpoints);
  try {
    return `etcd server ${await etcdServerVersion(etcd)}`;
  } finally {
    etcd.close();
  }
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(3)} s`;
}
