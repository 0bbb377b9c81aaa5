// I5 — each leader epoch that lives long enough completes checkpoints.
// A window: a job RUNNING under epoch e, from its job-state RUNNING (epoch e) to the next job-state of that job
// under e, or the end of e's term (its revocation, the first grant of a higher epoch, the final read, or its
// JobManager known gone: stopped, restarted, or named by a kill/pause nemesis op). Every
// window of at least 2 × checkpointIntervalMs + recoveryMs must contain a completed checkpoint (not a savepoint)
// of that job under epoch e, between its start and its end + slackMs. The recoveryMs term absorbs what a fault
// costs before the window visibly ends: a leader cut off from the coordinator is revoked within the TTL, a killed
// TaskManager is noticed (RESTARTING) within the heartbeat timeout. checkpointIntervalMs 0: not applicable.
import type { Checker, CheckInput, ClusterEvent } from "../types.ts";
import { describe, Findings } from "./findings.ts";
import { atOf, byJob, epochOf, Lifetimes, leaderTerms, ofKind, stateOf } from "./timeline.ts";

export const i5Checkpoints: Checker = {
  id: "I5",
  name: "every long-enough leader epoch checkpoints",
  check(input: CheckInput) {
    const { bounds, final } = input;
    const f = new Findings();
    if (bounds.checkpointIntervalMs <= 0) {
      f.evidence("not applicable: the workload takes no checkpoints (checkpointIntervalMs 0)");
      return f.verdict(i5Checkpoints);
    }
    const required = 2 * bounds.checkpointIntervalMs + bounds.recoveryMs;
    const terms = leaderTerms(input.events, final.at);
    const lifetimes = new Lifetimes(input);
    const completed = byJob(
      ofKind(input.events, "checkpoint-completed").filter((e) => e["savepoint"] !== true),
    );
    let windows = 0;
    let short = 0;
    for (const [job, states] of byJob(ofKind(input.events, "job-state"))) {
      for (const [i, s] of states.entries()) {
        if (stateOf(s) !== "RUNNING") continue;
        const epoch = epochOf(s);
        if (epoch === undefined) {
          f.undecided(`${describe(s)} carries no epoch`);
          continue;
        }
        const start = atOf(s);
        const term = terms.find((t) => t.epoch === epoch);
        const next = states.slice(i + 1).find((n) => epochOf(n) === epoch);
        const gone = lifetimes.goneAfter(s.source, start);
        const end = Math.min(next ? atOf(next) : Infinity, term?.end ?? final.at, final.at, gone);
        if (end - start < required) {
          short++;
          continue;
        }
        windows++;
        const inWindow = (c: ClusterEvent): boolean =>
          epochOf(c) === epoch && atOf(c) >= start && atOf(c) <= end + bounds.slackMs;
        if (!(completed.get(job) ?? []).some(inWindow)) {
          f.problem(
            `job ${job} RUNNING under epoch ${epoch} from ${describe(s)} for ${Math.round(end - start)} ms ` +
              `(≥ ${required} ms: 2 × checkpoint interval + recovery) without completing a checkpoint`,
          );
        }
      }
    }
    f.evidence(
      `${windows} (job, epoch) running windows of ≥ ${required} ms checked; ${short} shorter ones not required`,
    );
    const total = [...completed.values()].reduce((sum, list) => sum + list.length, 0);
    f.evidence(`${total} checkpoints completed in all`);
    return f.verdict(i5Checkpoints);
  },
};
