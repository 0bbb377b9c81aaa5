// I7 — exactly-once output: per-key sequences contiguous, final aggregates equal the closed-form value.
// The runner reads each keyed-count job's output with src/local/keyed-count-check.ts into final.outputs; here
// every report must have no problems and lines == expected. A keyed-count job — one whose ok op value (any client
// op: submit, run…) has `kind: "keyed-count"` — that FINISHED (job-state, or final listing) but has no report is a
// problem: its output was lost or never read. No keyed-count job at all: valid, noted as not applicable.
import type { Checker, CheckInput } from "../types.ts";
import { describeOp, Findings } from "./findings.ts";
import { jobOf, normState, ofKind, stateOf, text } from "./timeline.ts";

export const KEYED_COUNT = "keyed-count";

export const i7ExactlyOnce: Checker = {
  id: "I7",
  name: "exactly-once output",
  check(input: CheckInput) {
    const f = new Findings();
    const outputs = Object.entries(input.final.outputs);
    for (const [job, report] of outputs) {
      for (const p of report.problems) f.problem(`job ${job}: ${p}`);
      if (report.lines !== report.expected) {
        f.problem(`job ${job}: ${report.lines} output lines, expected ${report.expected}`);
      }
    }
    const finished = new Set(
      ofKind(input.events, "job-state")
        .filter((e) => stateOf(e) === "FINISHED")
        .map((e) => text(e, "job")),
    );
    for (const j of input.final.jobs ?? []) if (normState(j.state) === "FINISHED") finished.add(j.job);
    const keyed = new Map<string, number>();
    for (const op of input.history) {
      const v = op.value;
      if (op.type !== "ok" || op.process === "nemesis" || typeof v !== "object" || v === null) continue;
      const job = jobOf(v);
      if (job !== undefined && (v as Record<string, unknown>)["kind"] === KEYED_COUNT && !keyed.has(job)) {
        keyed.set(job, op.index);
        if (finished.has(job) && input.final.outputs[job] === undefined) {
          f.problem(`keyed-count job ${job} (${describeOp(op)}) finished but its output has no report`);
        }
      }
    }
    if (outputs.length === 0 && keyed.size === 0) {
      f.evidence("not applicable: no keyed-count job in this run");
    } else {
      const exact = outputs.filter(([, r]) => r.problems.length === 0 && r.lines === r.expected).length;
      f.evidence(
        `${exact} of ${outputs.length} keyed-count outputs exact; ${keyed.size} keyed-count jobs acknowledged`,
      );
    }
    return f.verdict(i7ExactlyOnce);
  },
};
