import { describe, expect, it } from "vitest";
import { pairs } from "../history.ts";
import {
  clientJobs,
  epochAt,
  isHeal,
  jobOf,
  leaderTerms,
  Lifetimes,
  normState,
  taskRuns,
} from "./timeline.ts";
import { cancel, events, fault, history, input, jm, submit, tm } from "./testing.ts";

describe("timeline", () => {
  it("reads job ids and states in the shapes clients and RPC listings use", () => {
    expect(jobOf("j1")).toBe("j1");
    expect(jobOf({ job: "j2", unbounded: true })).toBe("j2");
    expect(jobOf({ jobId: "j3" })).toBe("j3");
    expect(jobOf({})).toBeUndefined();
    expect(normState("JOB_STATE_CANCELED")).toBe("CANCELED");
    expect(normState("JOB_STATUS_FAILED")).toBe("FAILED");
  });

  it("counts ok submits and cancels, keeping cancels of unknown outcome apart", () => {
    const ops = history(
      submit(0, 0, 10, "a"),
      submit(1, 0, 10, "b", "fail"),
      cancel(0, 20, 30, "a", "info"),
      cancel(1, 20, 30, "c"),
    );
    const jobs = clientJobs(ops);
    expect([...jobs.acknowledged.keys()]).toEqual(["a"]);
    expect([...jobs.cancelled.keys()]).toEqual(["c"]);
    expect([...jobs.cancelUncertain]).toEqual(["a"]);
  });

  it("tells heals from faults", () => {
    const [inject, heal, phased] = pairs(
      history(
        fault("kill-leader", 0, 1),
        fault("heal-kill-leader", 2, 3),
        fault("kill-leader", 4, 5, { phase: "heal" }),
      ),
    );
    expect([isHeal(inject!), isHeal(heal!), isHeal(phased!)]).toEqual([false, true, true]);
  });

  it("ends a leader term at its revocation or the next higher grant", () => {
    const terms = leaderTerms(
      events(jm("jm-1").granted(0, 1), jm("jm-1").revoked(500, 1), jm("jm-2").granted(900, 2)),
      2000,
    );
    expect(terms.map((t) => [t.epoch, t.end])).toEqual([
      [1n, 500],
      [2n, 2000],
    ]);
    expect(epochAt(terms, 899)).toBe(1n);
    expect(epochAt(terms, 900)).toBe(2n);
  });

  it("ends a task run at its stop, or when its TaskManager is known gone", () => {
    const t1 = tm("tm-1");
    const evs = events(
      t1.running(0, "a", "x1", 1),
      t1.stopped(100, "a", "x1", 1),
      t1.running(200, "a", "x2", 1),
      t1.started(900),
    );
    const run = input({
      events: evs,
      history: history(fault("kill-taskmanager", 400, 450, { victims: ["tm-1"] })),
    });
    const runs = taskRuns(run, new Lifetimes(run));
    expect(runs.map((r) => [r.execution, r.end, r.how])).toEqual([
      ["x1", 100, "stopped"],
      ["x2", 450, "gone"],
    ]);
  });
});
