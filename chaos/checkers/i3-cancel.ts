// I3 — a cancelled job is no longer running shortly after the cancel is acknowledged.
// For every cancel that completed ok at t (its completion's `at`): no task of the job runs after
// t + cancelMs + slackMs. A task runs from its `task-running` until its `task-stopped` on the same TaskManager,
// or until that TaskManager is known gone (its `stopped`, its restart, or a nemesis op naming it); a task that
// starts after the bound is running after it too. The final listing must show the job terminal (CANCELED, or
// FINISHED/FAILED if it ended first); a job no longer listed is counted, not judged (I4 judges listings).
// Cancels of unknown outcome are not checked. When the run ends before the bound, tasks all stopped by then
// meet it; a task still running then is undecidable.
import type { Checker, CheckInput } from "../types.ts";
import { describe, describeOp, Findings, ms } from "./findings.ts";
import { clientJobs, Lifetimes, normState, TERMINAL, taskRuns } from "./timeline.ts";

export const i3Cancel: Checker = {
  id: "I3",
  name: "cancelled jobs stop",
  check(input: CheckInput) {
    const { final, bounds } = input;
    const f = new Findings();
    const jobs = clientJobs(input.history);
    const runs = taskRuns(input, new Lifetimes(input));
    const listed = final.jobs && new Map(final.jobs.map((j) => [j.job, normState(j.state)]));
    if (listed === undefined && jobs.cancelled.size > 0)
      f.undecided("no final job listing (no leader answered)");
    let checked = 0;
    let unlisted = 0;
    let slowest = 0;
    for (const [job, ok] of jobs.cancelled) {
      const bound = ok.at + bounds.cancelMs + bounds.slackMs;
      const what = `job ${job} cancelled (${describeOp(ok)})`;
      // The run ended before the bound: every task stopped by then meets it; one still running cannot be judged.
      const open = runs.filter((r) => r.job === job && r.end > final.at);
      if (bound > final.at && open.length > 0) {
        f.undecided(
          `${what}: task ${open[0]!.execution} still ran when the run ended at ${ms(final.at)}, before the cancel bound ${ms(bound)}`,
        );
        continue;
      }
      checked++;
      for (const r of runs) {
        if (r.job !== job) continue;
        if (r.end > bound) {
          const until = r.end === Infinity ? "never stopped" : `ran until ${ms(r.end)} (${r.how})`;
          const began = r.start > ok.at ? "started after the cancel" : "was running";
          f.problem(
            `${what}: task ${r.execution} ${began} (${describe(r.event)}) and ${until}; bound ${ms(bound)}`,
          );
        } else if (r.start <= ok.at + bounds.cancelMs) {
          slowest = Math.max(slowest, r.end - ok.at);
        }
      }
      const state = listed?.get(job);
      if (listed !== undefined && state === undefined) unlisted++;
      if (state !== undefined && !TERMINAL.has(state)) f.problem(`${what}: the final listing says ${state}`);
    }
    f.evidence(`${checked} acknowledged cancels checked against ${bounds.cancelMs} ms`);
    if (checked > 0)
      f.evidence(`slowest task stop: ${Math.round(slowest)} ms after the cancel was acknowledged`);
    if (unlisted > 0) f.evidence(`${unlisted} cancelled jobs no longer in the final listing`);
    if (jobs.cancelUncertain.size > 0)
      f.evidence(`${jobs.cancelUncertain.size} cancels of unknown outcome not checked`);
    return f.verdict(i3Cancel);
  },
};
