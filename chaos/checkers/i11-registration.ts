// I11 — after every leader change all live TaskManagers re-register with the new leader.
// For each `published` of epoch e at p (deadline p + registrationMs): every TaskManager alive at p registers
// (`registered` with epoch e, at or before deadline + slackMs; a registration printed before the leader's own
// `published` line counts). Alive at p: it printed an event at or before p, the same incarnation printed
// something after p (a TaskManager killed silently cannot be told from one that hangs, so a silent one is not
// required), and it is not known gone before the deadline (its stop, restart, or a nemesis op naming it).
// Not required at all: when a newer epoch was granted or published before the deadline, when the publishing
// leader was revoked or known gone before it, or when the deadline is past final.at.
import type { Checker, CheckInput, ClusterEvent } from "../types.ts";
import { describe, Findings } from "./findings.ts";
import { atOf, epochOf, Lifetimes, ofKind } from "./timeline.ts";

export const i11Registration: Checker = {
  id: "I11",
  name: "TaskManagers re-register with every new leader",
  check(input: CheckInput) {
    const { bounds, final, events } = input;
    const f = new Findings();
    const lifetimes = new Lifetimes(input);
    const taskmanagers = new Map<string, ClusterEvent[]>();
    for (const e of events) {
      if (e.role !== "taskmanager") continue;
      const list = taskmanagers.get(e.source) ?? [];
      list.push(e);
      taskmanagers.set(e.source, list);
    }
    const leaderships = ofKind(events, "granted", "published");
    let checked = 0;
    let skipped = 0;
    let registrations = 0;
    let slowest = 0;
    for (const p of ofKind(events, "published")) {
      const epoch = epochOf(p);
      if (epoch === undefined) {
        f.undecided(`${describe(p)} carries no epoch`);
        continue;
      }
      const at = atOf(p);
      const deadline = at + bounds.registrationMs;
      const superseded = leaderships.some((l) => (epochOf(l) ?? -1n) > epoch && atOf(l) < deadline);
      const revoked = ofKind(events, "revoked").some(
        (r) => r.source === p.source && epochOf(r) === epoch && atOf(r) >= at && atOf(r) < deadline,
      );
      if (superseded || revoked || lifetimes.goneAfter(p.source, at) < deadline || deadline > final.at) {
        skipped++;
        continue;
      }
      checked++;
      for (const [tm, list] of taskmanagers) {
        const after = list.find((e) => atOf(e) > at);
        if (
          !list.some((e) => atOf(e) <= at) ||
          after === undefined ||
          after["event"] === "taskmanager-started"
        )
          continue;
        if (lifetimes.goneAfter(tm, at) < deadline) continue;
        const registered = list.find((e) => e["event"] === "registered" && epochOf(e) === epoch);
        if (registered !== undefined && atOf(registered) <= deadline + bounds.slackMs) {
          registrations++;
          slowest = Math.max(slowest, atOf(registered) - at);
          continue;
        }
        const late = registered
          ? `registered only ${Math.round(atOf(registered) - at)} ms later`
          : "never registered";
        f.problem(
          `TaskManager ${tm} alive when epoch ${epoch} was published (${describe(p)}) ${late}; bound ${bounds.registrationMs} ms`,
        );
      }
    }
    f.evidence(`${checked} leader publications checked, ${skipped} superseded, ended or too late in the run`);
    f.evidence(
      `${registrations} TaskManager registrations within the bound; slowest ${Math.round(slowest)} ms`,
    );
    return f.verdict(i11Registration);
  },
};
