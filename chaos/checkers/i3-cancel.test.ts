import { describe, expect, it } from "vitest";
import { i3Cancel } from "./i3-cancel.ts";
import { cancel, events, fault, history, input, tm, submit } from "./testing.ts";

const t1 = tm("tm-1");
// cancel ok at 1100: cancelMs 1000 + slackMs 100 → no task of "a" may run after 2200.
const ops = history(submit(0, 0, 100, "a"), cancel(1, 1000, 1100, "a"));
const canceled = { jobs: [{ job: "a", state: "CANCELED" }] };
const started = t1.running(500, "a", "x1", 1);

describe("I3 cancelled jobs stop", () => {
  it("holds when the tasks stop within the bound and the listing says CANCELED", () => {
    const v = i3Cancel.check(
      input({ history: ops, events: events(started, t1.stopped(1500, "a", "x1", 1)), final: canceled }),
    );
    expect(v.valid).toBe(true);
    expect(v.evidence).toContain("slowest task stop: 400 ms after the cancel was acknowledged");
  });

  it("fails when a task stops after the bound", () => {
    const v = i3Cancel.check(
      input({ history: ops, events: events(started, t1.stopped(2500, "a", "x1", 1)), final: canceled }),
    );
    expect(v.valid).toBe(false);
    expect(v.problems[0]).toMatch(/task x1 was running .* ran until 2500 \(stopped\); bound 2200/);
  });

  it("fails when a task never stops and its TaskManager was never seen gone", () => {
    const v = i3Cancel.check(input({ history: ops, events: events(started), final: canceled }));
    expect(v.valid).toBe(false);
    expect(v.problems[0]).toContain("never stopped");
  });

  it("accepts a task that ended with its TaskManager, killed by the nemesis", () => {
    const killed = history(
      submit(0, 0, 100, "a"),
      cancel(1, 1000, 1100, "a"),
      fault("kill-taskmanager", 1150, 1200, { victims: ["tm-1"] }),
    );
    const v = i3Cancel.check(input({ history: killed, events: events(started), final: canceled }));
    expect(v.valid).toBe(true);
  });

  it("fails when a task of the job starts after the cancel", () => {
    const evs = events(
      started,
      t1.stopped(1500, "a", "x1", 1),
      t1.running(3000, "a", "x2", 2),
      t1.stopped(3100, "a", "x2", 2),
    );
    const v = i3Cancel.check(input({ history: ops, events: evs, final: canceled }));
    expect(v.valid).toBe(false);
    expect(v.problems[0]).toContain("task x2 started after the cancel");
  });

  it("fails when the final listing shows the job still running", () => {
    const evs = events(started, t1.stopped(1500, "a", "x1", 1));
    const v = i3Cancel.check(
      input({ history: ops, events: evs, final: { jobs: [{ job: "a", state: "JOB_STATE_RUNNING" }] } }),
    );
    expect(v.valid).toBe(false);
    expect(v.problems[0]).toContain("the final listing says RUNNING");
  });

  it("does not judge a cancel of unknown outcome", () => {
    const unknown = history(submit(0, 0, 100, "a"), cancel(1, 1000, 1100, "a", "info"));
    const v = i3Cancel.check(input({ history: unknown, events: events(started), final: canceled }));
    expect(v.valid).toBe(true);
    expect(v.evidence).toContain("1 cancels of unknown outcome not checked");
  });

  it("is unknown when the run ends before the bound with a task still running; holds when all had stopped", () => {
    const v = i3Cancel.check(
      input({ history: ops, events: events(started), final: { ...canceled, at: 2000 } }),
    );
    expect(v.valid).toBe("unknown");
    const stopped = i3Cancel.check(
      input({
        history: ops,
        events: events(started, t1.stopped(1500, "a", "x1", 1)),
        final: { ...canceled, at: 2000 },
      }),
    );
    expect(stopped.valid).toBe(true);
  });
});
