// Issue 4's proof, on real processes: `vigil run examples/keyed-count.ts` on 3 JobManagers and 2 TaskManagers,
// the leader SIGKILLed three times and a TaskManager twice while it runs, each replaced. The committed output
// must be exactly-once (every key's seq values exactly 1..n, N lines in all), and every restart after the first
// completed checkpoint must have restored a checkpoint (not started from nothing). Runs on every backend
// (etcd-streaming.test.ts, zookeeper-streaming.test.ts).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../src/client/cluster-client.ts";
import { silentLogger } from "../../src/common/logger.ts";
import { compileHaConfig } from "../../src/config/ha-config.ts";
import type { JobState } from "../../src/generated/records.ts";
import { checkKeyedCountOutput } from "../../src/local/keyed-count-check.ts";
import { spawnVigil, type VigilEvent } from "../../src/local/processes.ts";
import { LocalCluster, type Member } from "../../src/local/vigil-cluster.ts";

const TTL_S = 2;
const FAILOVER_MS = TTL_S * 1000 + 15_000;
/** N records; K keys; 2 source subtasks of R records/s each: about 10 s of input without failures. */
const N = 20_000;
const K = 7;
const RATE = 1_000;
const CHECKPOINT_MS = 500;

const atOf = (e: VigilEvent): number => Number(e["at"]);

export function describeKeyedCount(backend: "etcd" | "zookeeper"): void {
  describe(`keyed-count on ${backend}: exactly-once across JobManager and TaskManager kills`, () => {
    let cluster: LocalCluster;
    let client: ClusterClient;
    let leader: { member: Member; epoch: bigint };
    let scratch: string;

    beforeAll(async () => {
      scratch = await mkdtemp(join(tmpdir(), "vigil-keyed-count-"));
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
      if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
    });

    const jobmanagerEvents = (): VigilEvent[] => cluster.jobmanagers.flatMap((m) => [...m.proc.events]);

    async function stateOf(jobId: string): Promise<JobState | undefined> {
      const details = await client.getJob({ jobId }, { timeoutMs: 5_000 }).catch(() => undefined);
      return details?.summary?.state;
    }

    async function waitForState(jobId: string, wanted: JobState, timeoutMs: number): Promise<void> {
      const until = Date.now() + timeoutMs;
      let last: JobState | undefined;
      while (Date.now() < until) {
        last = await stateOf(jobId);
        if (last === wanted) return;
        if (last === "JOB_STATE_FAILED" || last === "JOB_STATE_CANCELED") break;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`job ${jobId}: ${last ?? "unknown"}, not ${wanted}, within ${timeoutMs} ms`);
    }

    /** Resolves once the current leader completed a checkpoint of `jobId` after its event index `from`. */
    function checkpointAfter(jobId: string, from: number, timeoutMs = 30_000): Promise<VigilEvent> {
      return leader.member.proc.waitForEvent(
        (e, i) => i >= from && e["event"] === "checkpoint-completed" && e["job"] === jobId,
        timeoutMs,
      );
    }

    async function killLeader(): Promise<void> {
      const old = leader;
      await cluster.kill(old.member);
      cluster.startJobManager();
      const next = await cluster.waitForLeader(old.epoch, FAILOVER_MS);
      await cluster.waitForRegistrations(next.epoch, 10_000);
      leader = next;
    }

    async function killTaskManager(): Promise<void> {
      const [victim] = cluster.alive("taskmanager");
      await cluster.kill(victim!);
      cluster.startTaskManager();
    }

    it("runs an application with `vigil run` and follows it to FINISHED", async () => {
      const out = join(scratch, "small");
      const run = spawnVigil([
        "run",
        "examples/keyed-count.ts",
        ...cluster.haArgs(),
        "--",
        "--count",
        "300",
        "--keys",
        "3",
        "--checkpoint-interval",
        String(CHECKPOINT_MS),
        "--output",
        out,
      ]);
      const status = await run.exited();
      expect({ status, stderr: run.stderr() }).toMatchObject({ status: { code: 0 } });
      expect(run.stdout()).toMatch(
        /^submitted job ([0-9a-f]+) \(keyed-count\) to leader epoch \d+\njob \1: FINISHED\n+$/,
      );
      // Progress on stderr, one line per change when stderr is not a terminal.
      expect(run.stderr()).toMatch(/^job [0-9a-f]+ FINISHED: 0\/\d+ tasks running, \d+ records$/m);
      expect((await checkKeyedCountOutput(out, { count: 300, keys: 3 })).problems).toEqual([]);
    }, 60_000);

    it("refuses a missing application and a failing main before sending anything", async () => {
      const missing = spawnVigil(["run", "examples/nope.ts", ...cluster.haArgs()]);
      expect((await missing.exited()).code).toBe(1);
      expect(missing.stderr()).toBe(
        "vigil run: examples/nope.ts: cannot read the application: no such file\n",
      );
      const noArgs = spawnVigil(["run", "examples/keyed-count.ts", ...cluster.haArgs()]);
      expect((await noArgs.exited()).code).toBe(1);
      expect(noArgs.stderr()).toMatch(
        /^vigil run: examples\/keyed-count\.ts: application main\(env, args\) failed: .*--count/,
      );
    });

    it("commits every record exactly once through three leader kills and two TaskManager kills", async () => {
      const out = join(scratch, "proof");
      const run = spawnVigil([
        "run",
        "examples/keyed-count.ts",
        "--detached",
        "--json",
        "--parallelism",
        "2",
        ...cluster.haArgs(),
        "--",
        "--count",
        String(N),
        "--keys",
        String(K),
        "--rate",
        String(RATE),
        "--checkpoint-interval",
        String(CHECKPOINT_MS),
        "--output",
        out,
      ]);
      const submitted = await run.waitForEvent((e) => typeof e["jobId"] === "string", 30_000);
      expect((await run.exited()).code).toBe(0);
      const jobId = String(submitted["jobId"]);

      // Each fault only once a checkpoint completed since the last one, so the job makes progress and every
      // recovery has a checkpoint to restore.
      await checkpointAfter(jobId, 0);
      const faults: (() => Promise<void>)[] = [
        killLeader,
        killTaskManager,
        killLeader,
        killTaskManager,
        killLeader,
      ];
      for (const fault of faults) {
        const before = leader;
        const mark = before.member.proc.events.length;
        await fault();
        // Running again (a new leader recovered it, or the same one restarted it), then checkpointed again.
        const running = await leader.member.proc.waitForEvent(
          (e, i) =>
            i >= (leader === before ? mark : 0) &&
            e["event"] === "job-state" &&
            e["job"] === jobId &&
            e["state"] === "RUNNING",
          FAILOVER_MS,
        );
        await checkpointAfter(jobId, leader.member.proc.events.indexOf(running));
      }
      await waitForState(jobId, "JOB_STATE_FINISHED", 120_000);

      const report = await checkKeyedCountOutput(out, { count: N, keys: K });
      expect(report.problems).toEqual([]);
      expect(report.lines).toBe(N);

      // Every (re)deployment after the first completed checkpoint restored a checkpoint: the JobManagers'
      // job-restored events {job, checkpoint}, or else the checkpoint their task-deployed events carry.
      const events = jobmanagerEvents();
      const firstCompleted = Math.min(
        ...events.filter((e) => e["event"] === "checkpoint-completed" && e["job"] === jobId).map(atOf),
      );
      const ofJob = (name: string) =>
        events.filter((e) => e["event"] === name && e["job"] === jobId && e["checkpoint"] !== undefined);
      const restored = ofJob("job-restored");
      const deployments = (restored.length > 0 ? restored : ofJob("task-deployed")).filter(
        (e) => atOf(e) > firstCompleted,
      );
      expect(deployments.length).toBeGreaterThanOrEqual(faults.length);
      const fromNothing = deployments.filter((e) => BigInt(String(e["checkpoint"])) <= 0n);
      expect(fromNothing).toEqual([]);
    }, 240_000);
  });
}
