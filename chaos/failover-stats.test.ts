import { describe, expect, it } from "vitest";
import { failoverStats } from "./failover-stats.ts";
import type { Op } from "./history.ts";
import type { ClusterEvent } from "./types.ts";

const nemesis = (index: number, type: Op["type"], f: string, at: number, value: unknown): Op => ({
  index,
  type,
  process: "nemesis",
  f,
  value,
  time: at,
  at,
});
const event = (at: number, fields: Record<string, unknown>): ClusterEvent =>
  ({ at, source: "jm-2", role: "jobmanager", ...fields }) as ClusterEvent;

describe("failoverStats", () => {
  it("measures each fault until the next one, leader faults by a newer epoch, others by the job coming back", () => {
    const ops = [
      nemesis(0, "invoke", "kill-leader", 1_000, { phase: "inject" }),
      nemesis(1, "ok", "kill-leader", 1_010, { phase: "inject", epoch: "5" }),
      nemesis(2, "invoke", "kill-taskmanager", 10_000, { phase: "inject" }),
      nemesis(3, "ok", "kill-taskmanager", 10_010, { phase: "inject", epoch: "7" }),
    ];
    const events = [
      event(2_900, { event: "job-state", state: "RUNNING", job: "j", epoch: "7" }),
      event(3_000, { event: "published", epoch: "7" }),
      event(12_000, { event: "job-state", state: "RESTARTING", job: "j", epoch: "7" }),
      event(14_500, { event: "job-state", state: "RUNNING", job: "j", epoch: "7" }),
      event(20_000, { event: "published", epoch: "9" }), // after the TaskManager fault: not its failover
    ];
    const rows = failoverStats(ops, events);
    expect(rows.find((r) => r.fault === "kill-leader")).toMatchObject({
      samples: 1,
      newLeaderMs: { p50: 2_000, max: 2_000, n: 1 },
      jobRunningMs: { p50: 1_900, n: 1 },
    });
    expect(rows.find((r) => r.fault === "kill-taskmanager")).toMatchObject({
      samples: 1,
      newLeaderMs: undefined,
      jobRunningMs: { p50: 4_500, n: 1 },
    });
  });
});
