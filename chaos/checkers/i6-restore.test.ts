import { describe, expect, it } from "vitest";
import { i6Restore } from "./i6-restore.ts";
import { events, input, jm } from "./testing.ts";

const j1 = jm("jm-1");
const j2 = jm("jm-2");
const before = [
  j1.granted(0, 1),
  j1.deployed(100, "a", "x1", 1, 0),
  j1.completed(1000, "a", 1, 1),
  j1.completed(2000, "a", 2, 1),
  j2.granted(4000, 2),
];

describe("I6 recovery restores the latest checkpoint", () => {
  it("holds when the new leader restores the latest checkpoint of the old one", () => {
    const v = i6Restore.check(input({ events: events(...before, j2.deployed(4500, "a", "x2", 2, 2)) }));
    expect(v.valid).toBe(true);
    expect(v.evidence?.[0]).toBe(
      "1 deployments after a completed checkpoint checked; 1 before any (from scratch)",
    );
  });

  it("fails when the new leader starts from scratch", () => {
    const v = i6Restore.check(input({ events: events(...before, j2.deployed(4500, "a", "x2", 2, 0)) }));
    expect(v.valid).toBe(false);
    expect(v.problems[0]).toMatch(
      /task-deployed of a epoch 2 \(jm-2 at 4500\) started from scratch although checkpoint 2/,
    );
  });

  it("fails when it restores an older checkpoint, even one the old leader printed only later", () => {
    const late = [...before, j2.deployed(4500, "a", "x2", 2, 2), j1.completed(4600, "a", 3, 1)];
    const v = i6Restore.check(input({ events: events(...late) }));
    expect(v.valid).toBe(false);
    expect(v.problems[0]).toContain("restored checkpoint 2 although checkpoint 3 had completed");
  });

  it("holds for a restart of the same leader racing a completion within slackMs, and ignores savepoints", () => {
    const racing = [
      ...before,
      j1.completed(2950, "a", 3, 1, true),
      j1.completed(3000, "a", 4, 1),
      j1.deployed(3050, "a", "x2", 1, 2),
    ];
    const v = i6Restore.check(input({ events: events(...racing) }));
    expect(v.valid).toBe(true);
  });

  it("is unknown when a deployment carries no checkpoint", () => {
    const bare = { ...j2.deployed(4500, "a", "x2", 2), checkpoint: undefined };
    expect(i6Restore.check(input({ events: events(...before, bare) })).valid).toBe("unknown");
  });
});
