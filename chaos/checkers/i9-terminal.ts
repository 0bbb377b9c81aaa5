// I9 — a job that reached a terminal state never runs again, under any epoch.
// Terminal at T: its first job-state FINISHED, CANCELED or FAILED (any epoch; the result is recorded before the
// state is reported) or its first cancel ok, whichever is earlier. After T + slackMs there must be no
// task-running of the job (any TaskManager) and no job-state RUNNING of it (any JobManager, any epoch). Tasks
// that were already running at T and stop late are I3's concern, not a new run.
import type { Checker, CheckInput } from "../types.ts";
import { describe, Findings, ms } from "./findings.ts";
import { atOf, ofKind, stateOf, terminalTimes, text } from "./timeline.ts";

export const i9Terminal: Checker = {
  id: "I9",
  name: "terminal jobs never run again",
  check(input: CheckInput) {
    const f = new Findings();
    const terminal = terminalTimes(input);
    const slack = input.bounds.slackMs;
    for (const e of ofKind(input.events, "task-running", "job-state")) {
      if (e["event"] === "job-state" && stateOf(e) !== "RUNNING") continue;
      const job = text(e, "job");
      const t = job === undefined ? undefined : terminal.get(job);
      if (t === undefined || atOf(e) <= t.at + slack) continue;
      f.problem(
        `job ${job} terminal since ${ms(t.at)} (${t.why}) but ${describe(e)}, ${Math.round(atOf(e) - t.at)} ms later`,
      );
    }
    f.evidence(`${terminal.size} jobs reached a terminal state`);
    return f.verdict(i9Terminal);
  },
};
