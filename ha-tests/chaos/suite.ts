// The chaos suite that CI runs on every backend (issue 5): short runs of both workloads under several fault
// kinds must be valid, and each test-only switch that breaks a safety mechanism must make the matching
// invariant's checker report a violation ("the checkers can fail"). Longer runs: chaos/README.md (nightly).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChaosOptions, type ChaosResult, runChaos, type UnsafeSwitch } from "../../chaos/runner.ts";

const SECONDS = 1_000;

export function describeChaosSuite(backend: "etcd" | "zookeeper"): void {
  describe(`chaos suite on ${backend}`, () => {
    let scratch: string;
    const lines: string[] = [];

    beforeAll(async () => {
      scratch = await mkdtemp(join(tmpdir(), "chaos-suite-"));
    });
    afterAll(async () => {
      await rm(scratch, { recursive: true, force: true });
    });

    const run = (name: string, o: Partial<ChaosOptions> & Pick<ChaosOptions, "workload" | "nemesis">) =>
      runChaos({
        backend,
        timeLimitMs: 30 * SECONDS,
        seed: `ci-${backend}-${name}`,
        out: join(scratch, name),
        jobmanagers: 3,
        taskmanagers: 2,
        ttlSeconds: 2,
        nemesisIntervalMs: 3 * SECONDS,
        unsafe: [],
        command: `vigil chaos (suite: ${name})`,
        progress: (line) => lines.push(line),
        ...o,
      });

    const explain = (r: ChaosResult): string =>
      JSON.stringify(
        r.verdicts.filter((v) => v.valid !== true),
        null,
        1,
      ) + `\n${lines.slice(-15).join("\n")}`;

    it("keyed-count under leader kills, a paused leader and TaskManager kills: every invariant holds", async () => {
      const r = await run("keyed-count", {
        workload: "keyed-count",
        nemesis: ["kill-leader", "pause-leader", "kill-taskmanager"],
      });
      expect(r.overall, explain(r)).toBe(true);
      expect(r.faultsInjected).toBeGreaterThanOrEqual(3);
    }, 240_000);

    it("short jobs under leader kills, a graceful stop and all JobManagers killed: every invariant holds", async () => {
      const r = await run("short-jobs", {
        workload: "short-jobs",
        nemesis: ["kill-leader", "stop-leader", "kill-all-jobmanagers", "replay-stale-write"],
      });
      expect(r.overall, explain(r)).toBe(true);
      expect(r.ops.ok).toBeGreaterThan(20);
      // Evidence, not absence of evidence: a deposed leader's write was tried, and refused.
      expect(r.verdicts.find((v) => v.id === "I1")?.evidence).toContainEqual(
        expect.stringMatching(/replayed writes of deposed leaders refused by the store/),
      );
    }, 240_000);

    // Each switch must show up as the violation it allows. A deposed leader's own writes are stopped first by
    // its zombie guard, so store fencing is shown with replay-stale-write: a write fenced by a deposed session,
    // sent as the deposed process would send it, which the store must refuse.
    const broken: readonly {
      readonly unsafe: readonly UnsafeSwitch[];
      readonly invariant: string;
      readonly shows: RegExp;
      readonly never?: RegExp;
      readonly what: Pick<ChaosOptions, "workload" | "nemesis">;
    }[] = [
      {
        unsafe: ["disable-zombie-guard"],
        invariant: "I1",
        shows: /two leaders acted at once/,
        never: /the store accepted a stale write/,
        what: { workload: "keyed-count", nemesis: ["pause-leader"] },
      },
      {
        unsafe: ["disable-store-fencing"],
        invariant: "I1",
        shows: /the store accepted a stale write/,
        what: { workload: "short-jobs", nemesis: ["replay-stale-write"] },
      },
      {
        unsafe: ["ack-before-store"],
        invariant: "I4",
        shows: /./,
        what: { workload: "short-jobs", nemesis: ["kill-leader"] },
      },
    ];
    for (const b of broken) {
      it(`with ${b.unsafe.join(" and ")} the suite reports ${b.invariant} violated`, async () => {
        const r = await run(`unsafe-${b.unsafe.join("-")}`, {
          ...b.what,
          unsafe: b.unsafe,
          timeLimitMs: 20 * SECONDS,
        });
        const verdict = r.verdicts.find((v) => v.id === b.invariant);
        expect(verdict?.valid, explain(r)).toBe(false);
        expect(verdict?.problems.join("\n")).toMatch(b.shows);
        if (b.never) expect(verdict?.problems.join("\n")).not.toMatch(b.never);
        expect(r.overall).toBe(false);
      }, 240_000);
    }
  });
}
