import { describe, expect, it } from "vitest";
import { i8CheckpointIds } from "./i8-checkpoint-ids.ts";
import { events, input, jm } from "./testing.ts";

const j1 = jm("jm-1");
const j2 = jm("jm-2");
const run = [
  j1.triggered(100, "a", 1, 1),
  j1.completed(200, "a", 1, 1),
  j1.triggered(300, "a", 2, 1),
  j2.triggered(2000, "a", 3, 2),
  j2.completed(2100, "a", 3, 2),
];

describe("I8 checkpoint ids unique and increasing", () => {
  it("holds across leaders, even when the old leader prints a completion late", () => {
    const v = i8CheckpointIds.check(input({ events: events(...run, j1.completed(2500, "a", 2, 1)) }));
    expect(v.valid).toBe(true);
    expect(v.evidence).toEqual(["3 completed checkpoints of 1 jobs in order; 1 jobs triggered checkpoints"]);
  });

  it("fails when a new leader reuses a triggered id", () => {
    const v = i8CheckpointIds.check(input({ events: events(...run, j2.triggered(2200, "a", 2, 2)) }));
    expect(v.valid).toBe(false);
    expect(v.problems[0]).toMatch(
      /checkpoint 2 triggered twice: checkpoint-triggered of a epoch 1 \(jm-1 at 300\)/,
    );
  });

  it("fails when a newer leader completes a lower id than an older leader did", () => {
    const v = i8CheckpointIds.check(input({ events: events(...run, j1.completed(1500, "a", 5, 1)) }));
    expect(v.valid).toBe(false);
    expect(v.problems[0]).toContain(
      "checkpoint 3 completed (checkpoint-completed of a epoch 2 (jm-2 at 2100)) after an older leader completed 5",
    );
  });

  it("fails when an id completes twice", () => {
    const v = i8CheckpointIds.check(input({ events: events(...run, j2.completed(2300, "a", 3, 2)) }));
    expect(v.valid).toBe(false);
    expect(v.problems[0]).toContain("checkpoint 3 completed twice");
  });
});
