import { describe, expect, it } from "vitest";
import { i4Submissions } from "./i4-submissions.ts";
import { cancel, events, history, input, jm, submit } from "./testing.ts";

const j1 = jm("jm-1");
const j2 = jm("jm-2");
const ops = history(submit(0, 100, 200, "a"), submit(1, 150, 250, "b"), submit(2, 300, 400, "c", "info"));

describe("I4 no acknowledged submission lost", () => {
  it("holds when every acknowledged job is listed, in any state", () => {
    const final = {
      jobs: [
        { job: "a", state: "RUNNING" },
        { job: "b", state: "FAILED" },
      ],
    };
    const v = i4Submissions.check(input({ history: ops, final }));
    expect(v.valid).toBe(true);
    expect(v.evidence?.[0]).toBe("2 of 2 acknowledged jobs checked in the final listing");
  });

  it("fails when an acknowledged job is unknown to the final leader", () => {
    const evs = events(j1.granted(50, 1), j2.granted(1000, 2));
    const v = i4Submissions.check(
      input({ history: ops, events: evs, final: { jobs: [{ job: "a", state: "RUNNING" }] } }),
    );
    expect(v.valid).toBe(false);
    expect(v.problems).toEqual([
      "job b, acknowledged by op 3 (submit ok, process 1, at 250), is unknown to the final leader (1 leaders granted since)",
    ]);
  });

  it("does not require a job of unknown submission outcome, nor one that ended and was cleaned", () => {
    const ended = history(
      submit(0, 100, 200, "a"),
      submit(1, 150, 250, "b"),
      cancel(1, 300, 400, "b"),
      submit(2, 300, 400, "c", "info"),
    );
    const v = i4Submissions.check(
      input({ history: ended, final: { jobs: [{ job: "a", state: "RUNNING" }] } }),
    );
    expect(v.valid).toBe(true);
    expect(v.evidence).toContain("1 absent jobs had ended (terminal or cleaned): not required");
  });

  it("is unknown without a final listing", () => {
    expect(i4Submissions.check(input({ history: ops, final: { jobs: undefined } })).valid).toBe("unknown");
  });
});
