// The overlap checker must be able to fail: hand-written TaskManager logs, valid and invalid.
import { describe, expect, it } from "vitest";
import { subtaskOverlaps } from "./overlaps.ts";

const run = (execution: string, subtask: number, at: number) => ({
  event: "task-running",
  job: "j",
  vertex: "v",
  subtask,
  execution,
  at,
});
const stop = (execution: string, at: number) => ({ event: "task-stopped", execution, at });

describe("subtaskOverlaps", () => {
  it("accepts a subtask that moves to another TaskManager after it stopped", () => {
    const a = { name: "a", exitedAt: undefined, events: [run("x0", 0, 10), stop("x0", 20)] };
    const b = { name: "b", exitedAt: undefined, events: [run("x1", 0, 21), run("y1", 1, 5)] };
    expect(subtaskOverlaps([a, b])).toEqual([]);
  });

  it("reports the same subtask running on two TaskManagers at once", () => {
    const a = { name: "a", exitedAt: undefined, events: [run("x0", 0, 10), stop("x0", 30)] };
    const b = { name: "b", exitedAt: undefined, events: [run("x1", 0, 25)] };
    const found = subtaskOverlaps([a, b]);
    expect(found).toHaveLength(1);
    expect(found[0]).toContain("x0 on a ran until 30 but x1 started on b at 25");
  });

  it("counts a killed TaskManager's tasks as running until it was seen dead", () => {
    const dead = { name: "a", exitedAt: 50, events: [run("x0", 0, 10)] };
    expect(
      subtaskOverlaps([dead, { name: "b", exitedAt: undefined, events: [run("x1", 0, 40)] }]),
    ).toHaveLength(1);
    expect(subtaskOverlaps([dead, { name: "b", exitedAt: undefined, events: [run("x1", 0, 60)] }])).toEqual(
      [],
    );
  });

  it("counts a task still running as running forever", () => {
    const a = { name: "a", exitedAt: undefined, events: [run("x0", 0, 10)] };
    expect(
      subtaskOverlaps([a, { name: "b", exitedAt: undefined, events: [run("x1", 0, 1e12)] }]),
    ).toHaveLength(1);
  });
});
