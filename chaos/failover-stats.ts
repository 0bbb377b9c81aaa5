// Failover statistics of a chaos run: for every fault that hit the leader, the time from the fault (its
// inject's invoke) to the first leader published with a newer epoch, and to the first job RUNNING under a
// newer epoch; p50, p99 and max per fault kind. From the history and the processes' events only.
import { percentile } from "../src/common/stats.ts";
import { nemesisPhase } from "./generator.ts";
import type { Op } from "./history.ts";
import { pairs } from "./history.ts";
import type { ClusterEvent } from "./types.ts";

export interface FailoverRow {
  readonly fault: string;
  /** Faults of this kind that hit a known leader epoch. */
  readonly samples: number;
  readonly newLeaderMs: Percentiles | undefined;
  readonly jobRunningMs: Percentiles | undefined;
}

export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Measurements behind the percentiles (a fault after which no job ran is not one). */
  readonly n: number;
}

/** Faults after which a new leader must take over; the others (TaskManagers, a coordinator minority) must not. */
const LEADER_FAULTS: ReadonlySet<string> = new Set([
  "kill-leader",
  "kill-all-jobmanagers",
  "pause-leader",
  "stop-leader",
  "partition-leader",
  "drop-replies",
  "replay-stale-write",
  "kill-coordinator-majority",
]);

/**
 * Per fault kind: for leader faults the time to a leader published with a newer epoch and to a job RUNNING
 * under one; for the other faults the time until a job that left RUNNING is RUNNING again. Each measured
 * only until the next fault's inject, so a later fault's failover is never counted for this one.
 */
export function failoverStats(ops: readonly Op[], events: readonly ClusterEvent[]): FailoverRow[] {
  const byFault = new Map<string, { leader: number[]; running: number[]; samples: number }>();
  const injects = pairs(ops.filter((o) => o.process === "nemesis")).filter(
    (p) => p.completion?.type === "ok" && nemesisPhase(p.completion.value) === "inject",
  );
  injects.forEach(({ invoke, completion }, i) => {
    const value = completion!.value as { epoch?: string };
    if (value.epoch === undefined) return;
    const epoch = BigInt(value.epoch);
    const until = injects[i + 1]?.invoke.at ?? Infinity;
    const row = byFault.get(invoke.f) ?? { leader: [], running: [], samples: 0 };
    byFault.set(invoke.f, row);
    row.samples++;
    const within = events.filter((e) => Number(e["at"]) >= invoke.at && Number(e["at"]) < until);
    const since = (e: ClusterEvent | undefined): number | undefined =>
      e === undefined ? undefined : Number(e["at"]) - invoke.at;
    const states = within.filter((e) => e["event"] === "job-state");
    let running: ClusterEvent | undefined;
    if (LEADER_FAULTS.has(invoke.f)) {
      const published = since(within.find((e) => e["event"] === "published" && newer(e, epoch)));
      if (published !== undefined) row.leader.push(published);
      running = states.find((e) => e["state"] === "RUNNING" && newer(e, epoch));
    } else {
      const left = states.findIndex((e) => e["state"] !== "RUNNING");
      running = left < 0 ? undefined : states.slice(left).find((e) => e["state"] === "RUNNING");
    }
    const back = since(running);
    if (back !== undefined) row.running.push(back);
  });
  return [...byFault].map(([fault, r]) => ({
    fault,
    samples: r.samples,
    newLeaderMs: percentiles(r.leader),
    jobRunningMs: percentiles(r.running),
  }));
}

function newer(e: ClusterEvent, epoch: bigint): boolean {
  try {
    return BigInt(String(e["epoch"])) > epoch;
  } catch {
    return false;
  }
}

export function percentiles(values: readonly number[]): Percentiles | undefined {
  if (values.length === 0) return undefined;
  return {
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: Math.max(...values),
    n: values.length,
  };
}

/** The rows as a table (the terminal and the HTML report print the same one). */
export function failoverTable(rows: readonly FailoverRow[]): {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number)[])[];
} {
  const cell = (p: Percentiles | undefined, k: "p50" | "p99" | "max"): string =>
    p === undefined ? "-" : String(Math.round(p[k]));
  return {
    columns: ["fault", "n", "new leader p50 ms", "p99", "max", "job running p50 ms", "p99", "max"],
    rows: rows.map((r) => [
      r.fault,
      r.samples,
      cell(r.newLeaderMs, "p50"),
      cell(r.newLeaderMs, "p99"),
      cell(r.newLeaderMs, "max"),
      cell(r.jobRunningMs, "p50"),
      cell(r.jobRunningMs, "p99"),
      cell(r.jobRunningMs, "max"),
    ]),
  };
}
