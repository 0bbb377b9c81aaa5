// Issue 4's proof, on real processes: `vigil run examples/keyed-count.ts` on 3 JobManagers and 2 TaskManagers,
// the leader SIGKILLed three times and a TaskManager twice while it runs, each replaced. The committed output
// must be exactly-once (every key's seq values exactly 1..n, N lines in all), and every restart after the first
// completed checkpoint must have restored a checkpoint (not started from nothing). Runs on every backend
// (etcd-streaming.test.ts, zookeeper-streaming.test.ts).
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkKeyedCountOutput } from "../../src/local/keyed-count-check.ts";
import { spawnVigil } from "../../src/local/processes.ts";
import { StreamingCluster } from "./streaming-cluster.ts";

/** N records; K keys; 2 source subtasks of R records/s each: about 10 s of input without failures. */
const N = 20_000;
const K = 7;
const RATE = 1_000;
const CHECKPOINT_MS = 500;

export function describeKeyedCount(backend: "etcd" | "zookeeper"): void {
  describe(`keyed-count on ${backend}: exactly-once across JobManager and TaskManager kills`, () => {
    let fixture: StreamingCluster;

    beforeAll(async () => {
      fixture = await StreamingCluster.start(backend, "keyed-count");
    });

    afterAll(async () => {
      await fixture?.stop();
    });

    it("runs an application with `vigil run` and follows it to FINISHED", async () => {
      const out = join(fixture.scratch, "small");
      const run = spawnVigil([
        "run",
        "examples/keyed-count.ts",
        ...fixture.cluster.haArgs(),
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
      const missing = spawnVigil(["run", "examples/nope.ts", ...fixture.cluster.haArgs()]);
      expect((await missing.exited()).code).toBe(1);
      expect(missing.stderr()).toBe(
        "vigil run: examples/nope.ts: cannot read the application: no such file\n",
      );
      const noArgs = spawnVigil(["run", "examples/keyed-count.ts", ...fixture.cluster.haArgs()]);
      expect((await noArgs.exited()).code).toBe(1);
      expect(noArgs.stderr()).toMatch(
        /^vigil run: examples\/keyed-count\.ts: application main\(env, args\) failed: .*--count/,
      );
    });

    it("commits every record exactly once through three leader kills and two TaskManager kills", async () => {
      const out = join(fixture.scratch, "proof");
      const jobId = await fixture.submitDetached("examples/keyed-count.ts", [
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

      // Each fault only once a checkpoint completed since the last one, so the job makes progress and every
      // recovery has a checkpoint to restore.
      await fixture.checkpointAfter(jobId, 0);
      const faults = [
        fixture.killLeader,
        fixture.killTaskManager,
        fixture.killLeader,
        fixture.killTaskManager,
        fixture.killLeader,
      ];
      for (const fault of faults) await fixture.injectFault(jobId, fault);
      await fixture.waitForState(jobId, "JOB_STATE_FINISHED", 120_000);

      const report = await checkKeyedCountOutput(out, { count: N, keys: K });
      expect(report.problems).toEqual([]);
      expect(report.lines).toBe(N);

      // Every (re)deployment after the first completed checkpoint restored a checkpoint.
      const { deployments, fromNothing } = fixture.restoresAfterFirstCheckpoint(jobId);
      expect(deployments.length).toBeGreaterThanOrEqual(faults.length);
      expect(fromNothing).toEqual([]);
    }, 240_000);
  });
}
