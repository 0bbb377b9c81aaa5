// Savepoints on real processes: `vigil savepoint` while keyed-count runs, `vigil stop --savepoint`, then
// `vigil run --from-savepoint` with the leader SIGKILLed once during the resumed run. At the stop the committed
// output must be an exactly-once prefix (every key's seqs 1..m, nothing uncommitted left behind); at the end
// the output of both jobs together must be exactly-once and complete, and the resumed job must have started
// from the savepoint, not from nothing. Runs on every backend (etcd-savepoints.test.ts, zookeeper-…).
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SAVEPOINT_METADATA_FILE } from "../../src/checkpoint/savepoint-directory.ts";
import { committedLines, uncommittedFiles } from "../../src/local/committed-output.ts";
import { checkKeyedCountOutput } from "../../src/local/keyed-count-check.ts";
import { spawnVigil } from "../../src/local/processes.ts";
import { StreamingCluster } from "./streaming-cluster.ts";

const N = 8_000;
const K = 5;

export function describeSavepoints(backend: "etcd" | "zookeeper"): void {
  describe(`savepoints on ${backend}: stop with a savepoint, resume from it exactly once`, () => {
    let fixture: StreamingCluster;

    beforeAll(async () => {
      fixture = await StreamingCluster.start(backend, "savepoints");
    });

    afterAll(async () => {
      await fixture?.stop();
    });

    it("savepoint, stop --savepoint, run --from-savepoint through a leader kill: exactly-once and complete", async () => {
      const out = join(fixture.scratch, "out");
      const savepoints = join(fixture.scratch, "savepoints");
      const args = ["--count", String(N), "--keys", String(K), "--rate", "500"];
      const appArgs = [...args, "--checkpoint-interval", "300", "--output", out];
      const jobId = await fixture.submitDetached("examples/keyed-count.ts", appArgs);
      await fixture.checkpointAfter(jobId, 0);
      const ha = fixture.cluster.haArgs();

      const taken = spawnVigil(["savepoint", jobId, "--dir", savepoints, "--json", ...ha]);
      const event = await taken.waitForEvent((e) => typeof e["path"] === "string", 60_000);
      expect((await taken.exited()).code).toBe(0);
      expect(await readdir(String(event["path"]))).toContain(SAVEPOINT_METADATA_FILE);

      const stop = spawnVigil(["stop", jobId, "--savepoint", "--dir", savepoints, ...ha]);
      const stopped = await stop.exited();
      expect({ code: stopped.code, stderr: stop.stderr() }).toMatchObject({ code: 0 });
      const printed = new RegExp(`^savepoint of job ${jobId}: (/\\S+)\\njob ${jobId}: FINISHED\\n+$`).exec(
        stop.stdout(),
      );
      expect(printed, JSON.stringify(stop.stdout())).not.toBeNull();
      const path = printed![1]!;
      const atStop = await committed(out);
      expect(atStop.hidden).toEqual([]); // the sinks committed everything before the savepoint; nothing after
      expect(prefixProblems(atStop.lines)).toEqual([]);
      expect(atStop.lines.length).toBeGreaterThan(0);
      expect(atStop.lines.length).toBeLessThan(N);

      const refused = spawnVigil([
        "run",
        "examples/keyed-count.ts",
        "--from-savepoint",
        join(savepoints, "nope"),
        ...ha,
        "--",
        ...appArgs,
      ]);
      expect((await refused.exited()).code).toBe(1);
      expect(refused.stderr()).toMatch(
        /savepoint ".*nope": does not exist; pass the directory that vigil savepoint/,
      );

      const resumed = spawnVigil([
        "run",
        "examples/keyed-count.ts",
        "--from-savepoint",
        path,
        "--detached",
        "--json",
        "--parallelism",
        "1", // rescaled: the savepoint was taken at parallelism 2 (4 slots: 2 chains × 2)
        ...ha,
        "--",
        ...appArgs,
      ]);
      const submitted = await resumed.waitForEvent((e) => typeof e["jobId"] === "string", 30_000);
      expect((await resumed.exited()).code).toBe(0);
      const resumedId = String(submitted["jobId"]);
      expect(resumedId).not.toBe(jobId);
      await fixture.checkpointAfter(resumedId, 0);
      await fixture.injectFault(resumedId, fixture.killLeader);
      await fixture.waitForState(resumedId, "JOB_STATE_FINISHED", 120_000);

      const report = await checkKeyedCountOutput(out, { count: N, keys: K });
      expect(report.problems).toEqual([]);
      expect(report.lines).toBe(N);
      const firstDeploy = fixture.cluster.jobmanagers
        .flatMap((m) => [...m.proc.events])
        .filter((e) => e["event"] === "task-deployed" && e["job"] === resumedId)
        .map((e) => BigInt(String(e["checkpoint"])));
      expect(firstDeploy.length).toBeGreaterThan(0);
      expect(firstDeploy.every((c) => c > 0n)).toBe(true); // never from nothing: the savepoint, then checkpoints
    }, 240_000);
  });
}

async function committed(dir: string): Promise<{ lines: string[]; hidden: string[] }> {
  return { lines: await committedLines(dir), hidden: await uncommittedFiles(dir) };
}

/** Every key's seqs are exactly 1..m, each once (an exactly-once prefix of the run). */
function prefixProblems(lines: readonly string[]): string[] {
  const seqs = new Map<string, number[]>();
  for (const line of lines) {
    const [key, seq] = line.split(",");
    seqs.set(key!, [...(seqs.get(key!) ?? []), Number(seq)]);
  }
  const problems: string[] = [];
  for (const [key, s] of seqs) {
    s.sort((a, b) => a - b);
    const wrong = s.findIndex((v, i) => v !== i + 1);
    if (wrong >= 0) problems.push(`key ${key}: seq ${s[wrong]} where ${wrong + 1} belongs`);
  }
  return problems;
}
