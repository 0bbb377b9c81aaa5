// I2 — after the last fault heals, every job that should run is running again within a bound, and stays healthy.
// Healed: the completion of the last nemesis op (the runner's final healing phase ends the nemesis's work); a
// nemesis op that never completed leaves the verdict unknown. Should run: submitted ok, no cancel ok, not
// terminal — a job that FINISHED (events or final listing), or went CANCELED/FAILED before its deadline, is
// excused; a job with a cancel of unknown outcome is skipped (it may be cancelled). Deadline per job:
// max(healed, submit ok) + recoveryMs. At the deadline, the latest job-state of the job from the leader current
// then (the highest epoch granted by then) must be RUNNING; after it, no job-state RESTARTING or FAILED from
// that leader or a newer one; and the final listing must say RUNNING. When the run ends before the deadline the
// job is judged at the end: RUNNING by then meets the bound, not RUNNING yet is undecidable.
import type { Checker, CheckInput } from "../types.ts";
import { describe, describeOp, Findings, ms } from "./findings.ts";
import {
  atOf,
  byJob,
  clientJobs,
  epochAt,
  epochOf,
  leaderTerms,
  nemesisOps,
  normState,
  ofKind,
  stateOf,
  TERMINAL,
} from "./timeline.ts";

const UNHEALTHY: ReadonlySet<string> = new Set(["RESTARTING", "FAILED"]);

export const i2Recovery: Checker = {
  id: "I2",
  name: "jobs running again after the last heal",
  check(input: CheckInput) {
    const { final, bounds } = input;
    const f = new Findings();
    const nemesis = nemesisOps(input.history);
    for (const p of nemesis) {
      if (p.completion === undefined)
        f.undecided(`nemesis ${describeOp(p.invoke)} never completed: faults may not be healed`);
    }
    const completed = nemesis.flatMap((p) => (p.completion ? [p.completion.at] : []));
    const healed = completed.length > 0 ? Math.max(...completed) : -Infinity;
    const jobs = clientJobs(input.history);
    const states = byJob(ofKind(input.events, "job-state"));
    const terms = leaderTerms(input.events, final.at);
    const listed = final.jobs && new Map(final.jobs.map((j) => [j.job, normState(j.state)]));
    if (listed === undefined && jobs.acknowledged.size > 0)
      f.undecided("no final job listing (no leader answered)");
    let checked = 0;
    let excused = 0;
    let slowest = 0;
    for (const [job, ok] of jobs.acknowledged) {
      if (jobs.cancelled.has(job) || jobs.cancelUncertain.has(job)) continue;
      const list = states.get(job) ?? [];
      const deadline = Math.max(healed, ok.at) + bounds.recoveryMs;
      const terminal = list.find((e) => TERMINAL.has(stateOf(e) ?? "") && atOf(e) <= deadline);
      if (list.some((e) => stateOf(e) === "FINISHED") || listed?.get(job) === "FINISHED" || terminal) {
        excused++;
        continue;
      }
      const what = `job ${job} (submitted ${describeOp(ok)})`;
      // Judged at its deadline, or at the end of the run when that comes first: running again before the
      // deadline meets the bound; not running yet when the run ends before it cannot be decided.
      const judgedAt = Math.min(deadline, final.at);
      const epoch = epochAt(terms, judgedAt);
      const current = list.filter((e) => atOf(e) <= judgedAt && epochOf(e) === epoch).at(-1);
      if (current === undefined || stateOf(current) !== "RUNNING") {
        if (deadline > final.at) {
          f.undecided(
            `${what}: not RUNNING yet when the run ended at ${ms(final.at)}, before its recovery deadline ${ms(deadline)}`,
          );
          continue;
        }
        checked++;
        f.problem(
          `${what}: not RUNNING ${bounds.recoveryMs} ms after the heal (deadline ${ms(deadline)}); leader epoch ` +
            `${epoch ?? "none"} reported ${current ? describe(current) : "no state for it"}`,
        );
      } else {
        checked++;
        slowest = Math.max(slowest, atOf(current) - Math.max(healed, ok.at));
      }
      const relapse = list.find(
        (e) => atOf(e) > judgedAt && UNHEALTHY.has(stateOf(e) ?? "") && (epochOf(e) ?? -1n) >= (epoch ?? -1n),
      );
      if (relapse) f.problem(`${what}: ${describe(relapse)} after recovering`);
      const finalState = listed?.get(job);
      if (listed !== undefined && finalState !== "RUNNING") {
        f.problem(
          `${what}: the final listing says ${finalState ?? "nothing (not listed)"}, expected RUNNING`,
        );
      }
    }
    f.evidence(`${checked} jobs that should run checked against ${bounds.recoveryMs} ms after the last heal`);
    if (checked > 0) f.evidence(`slowest back to RUNNING: ${Math.round(slowest)} ms after the heal`);
    if (excused > 0) f.evidence(`${excused} jobs excused: finished, or terminal before their deadline`);
    return f.verdict(i2Recovery);
  },
};
