import { describe, expect, it } from "vitest";
import { i9Terminal } from "./i9-terminal.ts";
import { cancel, events, history, input, jm, submit, tm } from "./testing.ts";

const j1 = jm("jm-1");
const j2 = jm("jm-2");
const t1 = tm("tm-1");
const finished = [
  j1.state(100, "a", "RUNNING", 1),
  t1.running(150, "a", "x1", 1),
  j1.state(1000, "a", "FINISHED", 1),
];

describe("I9 terminal jobs never run again", () => {
  it("holds when nothing of a finished job runs afterwards", () => {
    const v = i9Terminal.check(
      input({ events: events(...finished, t1.stopped(1020, "a", "x1", 1, "FINISHED")) }),
    );
    expect(v.valid).toBe(true);
    expect(v.evidence).toEqual(["1 jobs reached a terminal state"]);
  });

  it("fails when a new leader runs a finished job again", () => {
    const again = [
      ...finished,
      j2.granted(3000, 2),
      j2.state(3200, "a", "RUNNING", 2),
      t1.running(3300, "a", "x2", 2),
    ];
    const v = i9Terminal.check(input({ events: events(...again) }));
    expect(v.valid).toBe(false);
    expect(v.problems).toHaveLength(2);
    expect(v.problems[0]).toMatch(
      /job a terminal since 1000 \(job-state FINISHED\) but job-state RUNNING of a epoch 2/,
    );
  });

  it("counts an acknowledged cancel as terminal", () => {
    const ops = history(submit(0, 0, 50, "b"), cancel(1, 400, 500, "b"));
    const v = i9Terminal.check(input({ history: ops, events: events(t1.running(2000, "b", "y1", 1)) }));
    expect(v.valid).toBe(false);
    expect(v.problems[0]).toContain("terminal since 500 (cancel ok, op 3)");
  });

  it("does not count a cancel of unknown outcome", () => {
    const ops = history(submit(0, 0, 50, "b"), cancel(1, 400, 500, "b", "info"));
    expect(
      i9Terminal.check(input({ history: ops, events: events(t1.running(2000, "b", "y1", 1)) })).valid,
    ).toBe(true);
  });
});
