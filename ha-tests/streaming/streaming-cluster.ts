// What the streaming proofs (keyed-count.ts, word-count.ts) share: a local cluster of 3 JobManagers and 2
// TaskManagers with a scratch directory and a client, faults that replace what they kill, and the evidence of
// recovery read from the JobManagers' events.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClusterClient } from "../../src/client/cluster-client.ts";
import { silentLogger } from "../../src/common/logger.ts";
import { compileHaConfig } from "../../src/config/ha-config.ts";
import type { JobState } from "../../src/generated/records.ts";
import { spawnVigil, type VigilEvent } from "../../src/local/processes.ts";
import { LocalCluster, type Member } from "../../src/local/vigil-cluster.ts";

const TTL_S = 2;
/** Leader SIGKILL → a new leader published and the TaskManagers registered with it. */
export const FAILOVER_MS = TTL_S * 1000 + 15_000;

const atOf = (e: VigilEvent): number => Number(e["at"]);

export class StreamingCluster {
  private constructor(
    readonly cluster: LocalCluster,
    readonly client: ClusterClient,
    /** A directory of the test's own (inputs, outputs), removed by stop(). */
    readonly scratch: string,
    private current: { member: Member; epoch: bigint },
  ) {}

  static async start(backend: "etcd" | "zookeeper", name: string): Promise<StreamingCluster> {
    const scratch = await mkdtemp(join(tmpdir(), `vigil-${name}-`));
    let cluster: LocalCluster | undefined;
    try {
      cluster = await LocalCluster.start({
        backend,
        jobmanagers: 3,
        taskmanagers: 2,
        slots: 2,
        ttlSeconds: TTL_S,
      });
      const client = ClusterClient.viaHa(
        compileHaConfig({ backend, endpoints: cluster.endpoints, clusterId: cluster.clusterId }),
        silentLogger,
      );
      return new StreamingCluster(cluster, client, scratch, cluster.firstLeader);
    } catch (e: unknown) {
      await cluster?.stop();
      await rm(scratch, { recursive: true, force: true });
      throw e;
    }
  }

  /** The leader as of the last fault (or the first one). */
  get leader(): { readonly member: Member; readonly epoch: bigint } {
    return this.current;
  }

  async stop(): Promise<void> {
    await this.client.close();
    await this.cluster.stop();
    await rm(this.scratch, { recursive: true, force: true });
  }

  /** `vigil run APP --detached --json --parallelism 2 -- ARGS` against this cluster; the job id. */
  async submitDetached(app: string, args: readonly string[]): Promise<string> {
    const run = spawnVigil([
      "run",
      app,
      "--detached",
      "--json",
      "--parallelism",
      "2",
      ...this.cluster.haArgs(),
      "--",
      ...args,
    ]);
    const submitted = await run.waitForEvent((e) => typeof e["jobId"] === "string", 30_000);
    const status = await run.exited();
    if (status.code !== 0) throw new Error(`vigil run ${app} exited with ${status.code}: ${run.stderr()}`);
    return String(submitted["jobId"]);
  }

  async stateOf(jobId: string): Promise<JobState | undefined> {
    const details = await this.client.getJob({ jobId }, { timeoutMs: 5_000 }).catch(() => undefined);
    return details?.summary?.state;
  }

  async waitForState(jobId: string, wanted: JobState, timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    let last: JobState | undefined;
    while (Date.now() < until) {
      last = await this.stateOf(jobId);
      if (last === wanted) return;
      if (last === "JOB_STATE_FAILED" || last === "JOB_STATE_CANCELED") break;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`job ${jobId}: ${last ?? "unknown"}, not ${wanted}, within ${timeoutMs} ms`);
  }

  /** Resolves once the current leader completed a checkpoint of `jobId` after its event index `from`. */
  checkpointAfter(jobId: string, from: number, timeoutMs = 30_000): Promise<VigilEvent> {
    return this.current.member.proc.waitForEvent(
      (e, i) => i >= from && e["event"] === "checkpoint-completed" && e["job"] === jobId,
      timeoutMs,
    );
  }

  /** SIGKILL the leader, start a JobManager in its place, and wait for the next leader and registrations. */
  readonly killLeader = async (): Promise<void> => {
    const old = this.current;
    await this.cluster.kill(old.member);
    this.cluster.startJobManager();
    const next = await this.cluster.waitForLeader(old.epoch, FAILOVER_MS);
    await this.cluster.waitForRegistrations(next.epoch, 10_000);
    this.current = next;
  };

  /** SIGKILL a TaskManager and start another in its place. */
  readonly killTaskManager = async (): Promise<void> => {
    const [victim] = this.cluster.alive("taskmanager");
    await this.cluster.kill(victim!);
    this.cluster.startTaskManager();
  };

  /**
   * Runs `fault` while `jobId` runs, then waits until the job runs again (a new leader recovered it, or the
   * same one restarted it) and completed a checkpoint since: the next fault has progress to lose.
   */
  async injectFault(jobId: string, fault: () => Promise<void>): Promise<void> {
    const before = this.current;
    const mark = before.member.proc.events.length;
    await fault();
    const running = await this.current.member.proc.waitForEvent(
      (e, i) =>
        i >= (this.current === before ? mark : 0) &&
        e["event"] === "job-state" &&
        e["job"] === jobId &&
        e["state"] === "RUNNING",
      FAILOVER_MS,
    );
    await this.checkpointAfter(jobId, this.current.member.proc.events.indexOf(running));
  }

  /**
   * Every (re)deployment of `jobId` after its first completed checkpoint, from the JobManagers' job-restored
   * events {job, checkpoint} or else the checkpoint their task-deployed events carry; and those of them that
   * restored no checkpoint (started from nothing), which must be none.
   */
  restoresAfterFirstCheckpoint(jobId: string): { deployments: VigilEvent[]; fromNothing: VigilEvent[] } {
    const events = this.cluster.jobmanagers.flatMap((m) => [...m.proc.events]);
    const firstCompleted = Math.min(
      ...events.filter((e) => e["event"] === "checkpoint-completed" && e["job"] === jobId).map(atOf),
    );
    const ofJob = (name: string): VigilEvent[] =>
      events.filter((e) => e["event"] === name && e["job"] === jobId && e["checkpoint"] !== undefined);
    const restored = ofJob("job-restored");
    const deployments = (restored.length > 0 ? restored : ofJob("task-deployed")).filter(
      (e) => atOf(e) > firstCompleted,
    );
    const fromNothing = deployments.filter((e) => BigInt(String(e["checkpoint"])) <= 0n);
    return { deployments, fromNothing };
  }
}
