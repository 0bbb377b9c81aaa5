// I1 — at most one leader acts per epoch; epochs only increase; nothing from a stale epoch is accepted.
// (a) `granted` epochs strictly increase in `at` order (a repeated epoch means two leaders shared it).
// (b) Store order, exact: a `store-write` of epoch e committed at revision r is stale when some `granted` of an
//     epoch e' > e saw itself granted at revision g' < r — the store took the write after a newer leader existed.
//     A pair where either revision is missing cannot be ordered: it is skipped and counted in the evidence.
// (c) Per TaskManager incarnation (reset by its `taskmanager-started`): no `task-running` of epoch e after it
//     `registered` with an epoch e' > e (one process, one clock: exact).
// (d) Two leaders at once: no JobManager acts (task-deployed, checkpoint-triggered, job-submitted, job-state) under
//     epoch e later than slackMs after the first `granted` of a higher epoch. An act done before a SIGSTOP but
//     printed after SIGCONT counts too: the zombie guard must stop a resumed leader before it reports anything.
// Evidence: stale attempts seen refused (store-write-refused, command-rejected) — fencing was exercised, not idle.
import type { Checker, CheckInput, ClusterEvent } from "../types.ts";
import { describe, describeOp, Findings } from "./findings.ts";
import { atOf, big, epochOf, ofKind, text } from "./timeline.ts";

const ACTS: ReadonlySet<string> = new Set([
  "task-deployed",
  "checkpoint-triggered",
  "job-submitted",
  "job-state",
]);

export const i1Fencing: Checker = {
  id: "I1",
  name: "one leader at a time, fenced",
  check(input: CheckInput) {
    const f = new Findings();
    const grants = ofKind(input.events, "granted");
    increasingEpochs(grants, f);
    storeOrder(input.events, grants, f);
    taskManagerFencing(input.events, f);
    zombieActs(input.events, grants, input.bounds.slackMs, f);
    replayedWrites(input.history, f);
    const refusedWrites = ofKind(input.events, "store-write-refused").length;
    const refusedCommands = ofKind(input.events, "command-rejected").length;
    f.evidence(`${refusedWrites} stale store writes refused by the store`);
    f.evidence(`${refusedCommands} stale commands refused by TaskManagers`);
    return f.verdict(i1Fencing);
  },
};

/** The nemesis's replay of a deposed leader's write (replay-stale-write): the store must have refused it. */
function replayedWrites(history: CheckInput["history"], f: Findings): void {
  let refused = 0;
  for (const op of history) {
    if (op.process !== "nemesis" || op.f !== "replay-stale-write" || op.type !== "ok") continue;
    const v = op.value as {
      epoch?: string;
      details?: { outcome?: string; replayedKey?: string; newerEpoch?: string };
    };
    const outcome = v.details?.outcome;
    if (outcome === "refused") refused++;
    else if (outcome === "landed") {
      f.problem(
        `${describeOp(op)}: the store accepted a write of deposed epoch ${v.epoch} (key ${v.details?.replayedKey}) ` +
          `after epoch ${v.details?.newerEpoch} was granted: the store accepted a stale write`,
      );
    } else if (outcome !== undefined)
      f.undecided(`${describeOp(op)}: the replayed write's outcome is unknown`);
  }
  if (refused > 0) f.evidence(`${refused} replayed writes of deposed leaders refused by the store`);
}

function increasingEpochs(grants: readonly ClusterEvent[], f: Findings): void {
  let highest: { epoch: bigint; e: ClusterEvent } | undefined;
  for (const g of grants) {
    const epoch = epochOf(g);
    if (epoch === undefined) {
      f.undecided(`${describe(g)} carries no epoch`);
      continue;
    }
    if (highest !== undefined && epoch <= highest.epoch) {
      f.problem(
        `${describe(g)}: epoch ${epoch} granted after epoch ${highest.epoch} (${describe(highest.e)})`,
      );
    }
    if (highest === undefined || epoch > highest.epoch) highest = { epoch, e: g };
  }
  f.evidence(`${grants.length} leaderships granted${highest ? `, up to epoch ${highest.epoch}` : ""}`);
}

function storeOrder(events: readonly ClusterEvent[], grants: readonly ClusterEvent[], f: Findings): void {
  let ordered = 0;
  let skipped = 0;
  const writes = ofKind(events, "store-write");
  for (const w of writes) {
    const epoch = epochOf(w);
    const revision = big(w, "revision");
    if (epoch === undefined) {
      f.undecided(`${describe(w)} carries no epoch`);
      continue;
    }
    for (const g of grants) {
      const newer = epochOf(g);
      if (newer === undefined || newer <= epoch) continue;
      const granted = big(g, "revision");
      if (revision === undefined || granted === undefined) {
        skipped++;
        continue;
      }
      ordered++;
      if (granted < revision) {
        f.problem(
          `${describe(w)}: key ${text(w, "key")} committed at revision ${revision}, after epoch ${newer} was ` +
            `granted at revision ${granted} (${describe(g)}): the store accepted a stale write`,
        );
        break;
      }
    }
  }
  f.evidence(
    `${writes.length} store writes; ${ordered} (write, newer grant) pairs ordered by store revision`,
  );
  if (skipped > 0) f.evidence(`${skipped} (write, newer grant) pairs skipped: a revision was missing`);
}

function taskManagerFencing(events: readonly ClusterEvent[], f: Findings): void {
  const highest = new Map<string, { epoch: bigint; e: ClusterEvent }>();
  for (const e of events) {
    if (e.role !== "taskmanager") continue;
    const kind = e["event"];
    if (kind === "taskmanager-started") highest.delete(e.source);
    const epoch = epochOf(e);
    if (epoch === undefined) continue;
    const seen = highest.get(e.source);
    if (kind === "registered" && (seen === undefined || epoch > seen.epoch))
      highest.set(e.source, { epoch, e });
    if (kind === "task-running" && seen !== undefined && epoch < seen.epoch) {
      f.problem(
        `${describe(e)}: accepted a command of epoch ${epoch} after registering with epoch ${seen.epoch} (${describe(seen.e)})`,
      );
    }
  }
}

function zombieActs(
  events: readonly ClusterEvent[],
  grants: readonly ClusterEvent[],
  slackMs: number,
  f: Findings,
): void {
  for (const a of events) {
    if (a.role !== "jobmanager" || !ACTS.has(String(a["event"]))) continue;
    const epoch = epochOf(a);
    if (epoch === undefined) {
      f.undecided(`${describe(a)} carries no epoch`);
      continue;
    }
    const newer = grants.find((g) => (epochOf(g) ?? -1n) > epoch);
    if (newer === undefined) continue;
    const late = atOf(a) - atOf(newer);
    if (late > slackMs) {
      f.problem(
        `${describe(a)}: acted under epoch ${epoch} ${Math.round(late)} ms after epoch ${epochOf(newer)} was ` +
          `granted (${describe(newer)}): two leaders acted at once`,
      );
    }
  }
}
