// I6 — recovery resumes from the latest completed checkpoint, never from scratch after the first one.
// For each task-deployed of job J by epoch e at time d, the checkpoint it restores must be at least the latest
// checkpoint of J known complete to that leader:
//   - every completion by an older epoch (e' < e), whenever printed: store writes are fenced, so anything an
//     older leader completed was committed before e was granted and e read it on recovery (a completion printed
//     late, e.g. after SIGCONT, still counts; a stale write that got through is I1's violation and shows here too);
//   - completions by e itself printed at least slackMs before d (a restart racing a completion is not judged).
// Savepoints are left out: a plain savepoint is never restored automatically and a stop-with-savepoint ends the
// job. "0" (from scratch) after a completion is reported as such. Deploys by a newer epoch than a completion's
// never excuse; deploys by a stale leader are I1's.
import type { Checker, CheckInput, ClusterEvent } from "../types.ts";
import { describe, Findings } from "./findings.ts";
import { atOf, big, byJob, epochOf, ofKind, text } from "./timeline.ts";

export const i6Restore: Checker = {
  id: "I6",
  name: "recovery restores the latest checkpoint",
  check(input: CheckInput) {
    const f = new Findings();
    const slack = input.bounds.slackMs;
    const completed = byJob(
      ofKind(input.events, "checkpoint-completed").filter((e) => e["savepoint"] !== true),
    );
    let restoring = 0;
    let fresh = 0;
    for (const d of ofKind(input.events, "task-deployed")) {
      const job = text(d, "job") ?? "";
      const epoch = epochOf(d);
      const restored = big(d, "checkpoint");
      if (epoch === undefined || restored === undefined) {
        f.undecided(`${describe(d)} carries no epoch or checkpoint`);
        continue;
      }
      const known = (c: ClusterEvent): boolean => {
        const by = epochOf(c);
        return by !== undefined && (by < epoch || (by === epoch && atOf(c) <= atOf(d) - slack));
      };
      let latest: { id: bigint; e: ClusterEvent } | undefined;
      for (const c of (completed.get(job) ?? []).filter(known)) {
        const id = big(c, "checkpoint");
        if (id !== undefined && (latest === undefined || id > latest.id)) latest = { id, e: c };
      }
      if (latest === undefined) {
        fresh++;
        continue;
      }
      restoring++;
      if (restored < latest.id) {
        const what = restored === 0n ? "started from scratch" : `restored checkpoint ${restored}`;
        f.problem(
          `${describe(d)} ${what} although checkpoint ${latest.id} had completed (${describe(latest.e)})`,
        );
      }
    }
    f.evidence(
      `${restoring} deployments after a completed checkpoint checked; ${fresh} before any (from scratch)`,
    );
    return f.verdict(i6Restore);
  },
};
