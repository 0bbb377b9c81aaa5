// I4 — no acknowledged submission is lost.
// Every job whose submit completed ok is in the final listing (any state). A job seen terminal (terminal
// job-state, cancel ok, or job-cleaned) may be absent: its records are gone by design (I10), and a leader elected
// afterwards never knew it; such jobs are counted. Submits of unknown outcome (info, never completed) are not
// required. No final listing (no leader answered) is undecidable. `recovery-failed` events for acknowledged jobs
// are reported as evidence (a leader could not read one; a later one may have).
import type { Checker, CheckInput } from "../types.ts";
import { describeOp, Findings } from "./findings.ts";
import { atOf, clientJobs, ofKind, terminalTimes, text } from "./timeline.ts";

export const i4Submissions: Checker = {
  id: "I4",
  name: "no acknowledged submission lost",
  check(input: CheckInput) {
    const f = new Findings();
    const { acknowledged } = clientJobs(input.history);
    const jobs = input.final.jobs;
    if (jobs === undefined) {
      if (acknowledged.size > 0) f.undecided("no final job listing (no leader answered)");
      return f.verdict(i4Submissions);
    }
    const known = new Set(jobs.map((j) => j.job));
    const terminal = terminalTimes(input);
    const cleaned = new Set(ofKind(input.events, "job-cleaned").map((e) => text(e, "job")));
    let ended = 0;
    for (const [job, ok] of acknowledged) {
      if (known.has(job)) continue;
      if (terminal.has(job) || cleaned.has(job)) {
        ended++;
        continue;
      }
      const leaders = ofKind(input.events, "granted").filter((g) => atOf(g) > ok.at).length;
      f.problem(
        `job ${job}, acknowledged by ${describeOp(ok)}, is unknown to the final leader (${leaders} leaders granted since)`,
      );
    }
    f.evidence(
      `${acknowledged.size - ended} of ${acknowledged.size} acknowledged jobs checked in the final listing`,
    );
    if (ended > 0) f.evidence(`${ended} absent jobs had ended (terminal or cleaned): not required`);
    const failed = ofKind(input.events, "recovery-failed").filter((e) =>
      acknowledged.has(text(e, "job") ?? ""),
    );
    if (failed.length > 0) f.evidence(`${failed.length} recovery-failed events for acknowledged jobs`);
    return f.verdict(i4Submissions);
  },
};
