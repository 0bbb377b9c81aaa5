import { describe, expect, it } from "vitest";
import { i5Checkpoints } from "./i5-checkpoints.ts";
import { events, fault, history, input, jm } from "./testing.ts";

const j1 = jm("jm-1");
const j2 = jm("jm-2");
// checkpointIntervalMs 500, recoveryMs 3000: windows of ≥ 4000 ms must complete a checkpoint.
const term = [j1.granted(0, 1), j1.state(100, "a", "RUNNING", 1), j2.granted(6000, 2)];

describe("I5 every long-enough leader epoch checkpoints", () => {
  it("holds when a long leader epoch completed a checkpoint of its running job", () => {
    const v = i5Checkpoints.check(input({ events: events(...term, j1.completed(700, "a", 1, 1)) }));
    expect(v.valid).toBe(true);
    expect(v.evidence?.[0]).toBe(
      "1 (job, epoch) running windows of ≥ 4000 ms checked; 0 shorter ones not required",
    );
  });

  it("fails when a long leader epoch completed none (a savepoint does not count)", () => {
    const v = i5Checkpoints.check(input({ events: events(...term, j1.completed(700, "a", 1, 1, true)) }));
    expect(v.valid).toBe(false);
    expect(v.problems[0]).toMatch(/job a RUNNING under epoch 1 from .* for 5900 ms \(≥ 4000 ms/);
  });

  it("fails when only the next leader checkpointed", () => {
    const v = i5Checkpoints.check(
      input({ events: events(...term, j2.completed(6500, "a", 1, 2)), final: { at: 7000 } }),
    );
    expect(v.valid).toBe(false);
  });

  it("does not require windows shorter than the bound (job restarting, leader replaced)", () => {
    const short = [
      j1.granted(0, 1),
      j1.state(100, "a", "RUNNING", 1),
      j1.state(3000, "a", "RESTARTING", 1),
      j2.granted(3500, 2),
    ];
    const v = i5Checkpoints.check(input({ events: events(...short), final: { at: 5000 } }));
    expect(v.valid).toBe(true);
    expect(v.evidence?.[0]).toContain("0 (job, epoch) running windows");
  });

  it("ends a window when the nemesis kills the leader", () => {
    const killed = input({
      events: events(...term),
      history: history(fault("kill-leader", 2000, 2010, { victims: ["jm-1"] })),
    });
    expect(i5Checkpoints.check(killed).valid).toBe(true);
  });

  it("is not applicable to workloads without checkpoints", () => {
    const v = i5Checkpoints.check(input({ events: events(...term), bounds: { checkpointIntervalMs: 0 } }));
    expect(v.valid).toBe(true);
    expect(v.evidence?.[0]).toMatch(/^not applicable/);
  });
});
