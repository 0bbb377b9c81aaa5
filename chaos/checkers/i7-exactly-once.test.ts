import { describe, expect, it } from "vitest";
import { i7ExactlyOnce } from "./i7-exactly-once.ts";
import { type Call, events, history, input, jm } from "./testing.ts";

const run = (job: string): Call => ({
  process: 0,
  f: "run",
  at: 100,
  end: 200,
  type: "ok",
  result: { job, kind: "keyed-count" },
});
const exact = { problems: [], lines: 1000, expected: 1000 };

describe("I7 exactly-once output", () => {
  it("holds when every keyed-count report is exact", () => {
    const v = i7ExactlyOnce.check(input({ history: history(run("k")), final: { outputs: { k: exact } } }));
    expect(v.valid).toBe(true);
    expect(v.evidence).toEqual(["1 of 1 keyed-count outputs exact; 1 keyed-count jobs acknowledged"]);
  });

  it("fails on a report with problems or a wrong line count", () => {
    const outputs = { k: { problems: ["key 3: 5 follows 3 (gap)"], lines: 999, expected: 1000 } };
    const v = i7ExactlyOnce.check(input({ final: { outputs } }));
    expect(v.valid).toBe(false);
    expect(v.problems).toEqual(["job k: key 3: 5 follows 3 (gap)", "job k: 999 output lines, expected 1000"]);
  });

  it("fails when a finished keyed-count job has no report", () => {
    const evs = events(jm("jm-1").state(5000, "k", "FINISHED", 1));
    const v = i7ExactlyOnce.check(input({ history: history(run("k")), events: evs }));
    expect(v.valid).toBe(false);
    expect(v.problems[0]).toContain(
      "keyed-count job k (op 1 (run ok, process 0, at 200)) finished but its output has no report",
    );
  });

  it("is not applicable without keyed-count jobs", () => {
    const v = i7ExactlyOnce.check(input());
    expect(v.valid).toBe(true);
    expect(v.evidence).toEqual(["not applicable: no keyed-count job in this run"]);
  });
});
