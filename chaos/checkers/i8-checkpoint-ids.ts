// I8 — checkpoint ids are unique and increase across leaders.
// Per job: no checkpoint id is triggered twice (by any leaders: the counter is a fenced store record, so ids are
// never reused), no id completes twice, and completed ids (savepoints included: they share the counter) strictly
// increase in (epoch, at) order — within a leader by its own clock, across leaders by epoch. Ordering across
// leaders by epoch rather than wall time is exact: a completion printed late (after SIGCONT) by an older leader
// was committed before the newer leader was granted, so its id must be lower anyway.
import type { Checker, CheckInput, ClusterEvent } from "../types.ts";
import { describe, Findings } from "./findings.ts";
import { atOf, big, byJob, epochOf, ofKind } from "./timeline.ts";

export const i8CheckpointIds: Checker = {
  id: "I8",
  name: "checkpoint ids unique and increasing",
  check(input: CheckInput) {
    const f = new Findings();
    const triggered = byJob(ofKind(input.events, "checkpoint-triggered"));
    const completed = byJob(ofKind(input.events, "checkpoint-completed"));
    for (const [job, list] of triggered) duplicates(job, "triggered", list, f);
    let total = 0;
    for (const [job, list] of completed) {
      duplicates(job, "completed", list, f);
      const keyed: { epoch: bigint; at: number; id: bigint; e: ClusterEvent }[] = [];
      for (const e of list) {
        const epoch = epochOf(e);
        const id = big(e, "checkpoint");
        if (epoch === undefined || id === undefined)
          f.undecided(`${describe(e)} carries no epoch or checkpoint id`);
        else keyed.push({ epoch, at: atOf(e), id, e });
      }
      keyed.sort((a, b) => (a.epoch === b.epoch ? a.at - b.at : a.epoch < b.epoch ? -1 : 1));
      for (let i = 1; i < keyed.length; i++) {
        const prev = keyed[i - 1]!;
        const next = keyed[i]!;
        if (next.id > prev.id) continue;
        const whose = next.epoch === prev.epoch ? "the same leader" : "an older leader";
        f.problem(
          `job ${job}: checkpoint ${next.id} completed (${describe(next.e)}) after ${whose} completed ${prev.id} (${describe(prev.e)})`,
        );
      }
      total += keyed.length;
    }
    f.evidence(
      `${total} completed checkpoints of ${completed.size} jobs in order; ${triggered.size} jobs triggered checkpoints`,
    );
    return f.verdict(i8CheckpointIds);
  },
};

function duplicates(job: string, what: string, list: readonly ClusterEvent[], f: Findings): void {
  const seen = new Map<bigint, ClusterEvent>();
  for (const e of list) {
    const id = big(e, "checkpoint");
    if (id === undefined) continue;
    const first = seen.get(id);
    if (first) f.problem(`job ${job}: checkpoint ${id} ${what} twice: ${describe(first)} and ${describe(e)}`);
    else seen.set(id, e);
  }
}
