import { describe, expect, it } from "vitest";
import type { Checker, Validity } from "../types.ts";
import { compose } from "./compose.ts";
import { ALL_CHECKERS, checkersFor } from "./index.ts";
import { input } from "./testing.ts";

const fixed = (id: string, valid: Validity): Checker => ({
  id,
  name: `always ${String(valid)}`,
  check: () => ({ id, name: `always ${String(valid)}`, valid, problems: valid === true ? [] : ["p"] }),
});
const throwing: Checker = {
  id: "IX",
  name: "throws",
  check: () => {
    throw new TypeError("cannot read x of undefined");
  },
};

describe("compose", () => {
  it("is valid only when every checker is", () => {
    expect(compose([fixed("A", true), fixed("B", true)])(input()).overall).toBe(true);
    expect(compose([fixed("A", true), fixed("B", "unknown")])(input()).overall).toBe("unknown");
    expect(compose([fixed("A", "unknown"), fixed("B", false)])(input()).overall).toBe(false);
    expect(compose([])(input()).overall).toBe(true);
  });

  it("turns a throwing checker into unknown with the error as its problem, never valid", () => {
    const { overall, verdicts } = compose([fixed("A", true), throwing])(input());
    expect(overall).toBe("unknown");
    expect(verdicts[1]).toEqual({
      id: "IX",
      name: "throws",
      valid: "unknown",
      problems: ["the checker threw: TypeError: cannot read x of undefined"],
    });
  });

  it("caps a checker's problems at 20, saying how many were left out", () => {
    const noisy: Checker = {
      id: "N",
      name: "noisy",
      check: () => ({
        id: "N",
        name: "noisy",
        valid: false,
        problems: Array.from({ length: 30 }, (_, i) => `p${i}`),
      }),
    };
    const [v] = compose([noisy])(input()).verdicts;
    expect(v!.problems).toHaveLength(20);
    expect(v!.problems[19]).toBe("… and 11 more");
  });

  it("runs every real checker on an empty run: nothing happened, nothing violated", () => {
    const { overall, verdicts } = compose(ALL_CHECKERS)(input());
    expect(verdicts.map((v) => v.id)).toEqual([
      "I1",
      "I2",
      "I3",
      "I4",
      "I5",
      "I6",
      "I7",
      "I8",
      "I9",
      "I10",
      "I11",
    ]);
    expect(overall).toBe(true);
  });

  it("makes a checker that throws on malformed events unknown", () => {
    const bad = input({
      events: [
        {
          event: "job-state",
          job: "a",
          state: "FINISHED",
          epoch: "1",
          at: "soon",
          source: "jm-1",
          role: "jobmanager",
        },
      ],
    });
    const { overall, verdicts } = compose(checkersFor(["I9"]))(bad);
    expect(overall).toBe("unknown");
    expect(verdicts[0]!.problems[0]).toContain('event of jm-1 without a numeric "at"');
  });
});

describe("checkersFor", () => {
  it("selects by id in invariant order, case-insensitively", () => {
    expect(checkersFor(["i10", "I3"]).map((c) => c.id)).toEqual(["I3", "I10"]);
    expect(checkersFor()).toEqual(ALL_CHECKERS);
  });

  it("rejects an unknown id, naming the valid ones", () => {
    expect(() => checkersFor(["I12"])).toThrow(/unknown invariant I12; choose among I1, I2, .*I11/);
  });
});
