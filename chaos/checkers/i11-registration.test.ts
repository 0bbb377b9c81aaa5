import { describe, expect, it } from "vitest";
import { i11Registration } from "./i11-registration.ts";
import { events, fault, history, input, jm, tm } from "./testing.ts";

const j1 = jm("jm-1");
const j2 = jm("jm-2");
const t1 = tm("tm-1");
const t2 = tm("tm-2");
// Epoch 2 published at 3000; registrationMs 1000 → live TaskManagers register with it by 4000 (+ slackMs).
const before = [
  t1.started(0),
  t2.started(0),
  j1.granted(100, 1),
  j1.published(150, 1),
  t1.registered(200, 1),
  t2.registered(250, 1),
  j2.granted(2900, 2),
  j2.published(3000, 2),
];

describe("I11 TaskManagers re-register with every new leader", () => {
  it("holds when every live TaskManager registers with each new leader in time", () => {
    const v = i11Registration.check(
      input({ events: events(...before, t1.registered(3100, 2), t2.registered(3400, 2)) }),
    );
    expect(v.valid).toBe(true);
    expect(v.evidence).toEqual([
      "2 leader publications checked, 0 superseded, ended or too late in the run",
      "4 TaskManager registrations within the bound; slowest 400 ms",
    ]);
  });

  it("fails when a live TaskManager registers late or never", () => {
    const late = [...before, t1.registered(3100, 2), t2.leaderLost(3050, 1), t2.registered(4500, 2)];
    const v = i11Registration.check(input({ events: events(...late) }));
    expect(v.valid).toBe(false);
    expect(v.problems[0]).toMatch(
      /TaskManager tm-2 alive when epoch 2 was published .* registered only 1500 ms later/,
    );
  });

  it("does not require a TaskManager killed by the nemesis or restarted meanwhile", () => {
    const ops = history(fault("kill-taskmanager", 3010, 3020, { victims: ["tm-2"] }));
    const evs = events(
      ...before,
      t1.registered(3100, 2),
      t2.leaderLost(3005, 1),
      t2.started(5000),
      t2.registered(5100, 2),
    );
    expect(i11Registration.check(input({ history: ops, events: evs })).valid).toBe(true);
  });

  it("does not require registration with a leader superseded before the deadline", () => {
    const superseded = [
      ...before,
      t2.leaderLost(3050, 1),
      jm("jm-3").granted(3500, 3),
      t1.registered(3600, 3),
      t2.registered(3600, 3),
    ];
    const v = i11Registration.check(input({ events: events(...superseded) }));
    expect(v.valid).toBe(true);
    expect(v.evidence?.[0]).toBe("1 leader publications checked, 1 superseded, ended or too late in the run");
  });
});
