import { describe, expect, it } from "vitest";
import { i1Fencing } from "./i1-fencing.ts";
import { ev, events, input, jm, tm } from "./testing.ts";

const j1 = jm("jm-1");
const j2 = jm("jm-2");
const t1 = tm("tm-1");

/** Epoch 1 leads, epoch 2 takes over at 2000; the stale leader tries and is refused. */
const failover = [
  j1.granted(100, 1, 10),
  t1.registered(150, 1),
  j1.write(200, "jobgraphs/a", 1, 11),
  j1.state(250, "a", "RUNNING", 1),
  t1.running(300, "a", "x1", 1),
  j2.granted(2000, 2, 20),
  j1.refused(2040, "jobgraphs/a", 1),
  j1.state(2050, "a", "RUNNING", 1), // within slackMs of the new grant
  j2.write(2100, "jobgraphs/a", 2, 21),
  t1.registered(2200, 2),
  t1.rejected(2300, 1, 2),
  t1.running(2400, "a", "x2", 2),
];

describe("I1 one leader at a time, fenced", () => {
  it("holds across a failover, with the stale leader's attempts refused as evidence", () => {
    const v = i1Fencing.check(input({ events: events(...failover) }));
    expect(v.valid).toBe(true);
    expect(v.evidence).toContain("1 stale store writes refused by the store");
    expect(v.evidence).toContain("1 stale commands refused by TaskManagers");
  });

  it("fails when a granted epoch does not increase", () => {
    const v = i1Fencing.check(input({ events: events(j1.granted(100, 2), j2.granted(2000, 2)) }));
    expect(v.valid).toBe(false);
    expect(v.problems[0]).toContain("epoch 2 granted after epoch 2");
  });

  it("fails on a store write committed after a newer leader's grant revision", () => {
    const v = i1Fencing.check(
      input({ events: events(...failover, j1.write(1990, "jobs/a/checkpoints/5", 1, 25)) }),
    );
    expect(v.valid).toBe(false);
    expect(v.problems[0]).toMatch(/revision 25, after epoch 2 was granted at revision 20/);
  });

  it("skips write/grant pairs without a revision and says so", () => {
    const v = i1Fencing.check(input({ events: events(...failover, j1.write(1990, "jobgraphs/b", 1)) }));
    expect(v.valid).toBe(true);
    expect(v.evidence).toContain("1 (write, newer grant) pairs skipped: a revision was missing");
  });

  it("fails when a TaskManager runs a command of an epoch older than its registration", () => {
    const v = i1Fencing.check(input({ events: events(...failover, t1.running(2500, "a", "x3", 1)) }));
    expect(v.valid).toBe(false);
    expect(v.problems.join("\n")).toMatch(
      /tm-1 .*accepted a command of epoch 1 after registering with epoch 2/,
    );
  });

  it("forgets a TaskManager's highest epoch when it restarts", () => {
    const restarted = [...failover, t1.started(2450), t1.running(2500, "a", "x3", 1)];
    const v = i1Fencing.check(input({ events: events(...restarted) }));
    expect(v.valid).toBe(true);
  });

  it("fails when the old leader acts well after a newer grant (two leaders at once)", () => {
    const v = i1Fencing.check(input({ events: events(...failover, j1.triggered(2600, "a", 3, 1)) }));
    expect(v.valid).toBe(false);
    expect(v.problems[0]).toMatch(
      /checkpoint-triggered of a epoch 1 \(jm-1 at 2600\): acted under epoch 1 600 ms/,
    );
  });

  it("is unknown when a grant carries no epoch", () => {
    const v = i1Fencing.check(input({ events: events(ev(100, "jm-1", "granted")) }));
    expect(v.valid).toBe("unknown");
  });
});
