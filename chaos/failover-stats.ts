// Failover statistics of a chaos run: for every fault that hit the leader, the time from the fault (its
// inject's invoke) to the first leader published with a newer epoch, and to the first job RUNNING under a
// newer epoch; p50, p99 and max per fault kind. From the history and the processes' events only.
import { percentile } from "../src/common/stats.ts";
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

export function failoverStats(ops: readonly Op[], events: readonly ClusterEvent[]): FailoverRow[] {
  const byFault = new Map<string, { leader: number[]; running: number[]; samples: number }>();
  for (const { invoke, completion } of pairs(ops.filter((o) => o.process === "nemesis"))) {
    const value = completion?.value as { phase?: string; epoch?: string } | undefined;
    if (completion?.type !== "ok" || value?.phase !== "inject" || value.epoch === undefined) continue;
    const epoch = BigInt(value.epoch);
    const row = byFault.get(invoke.f) ?? { leader: [], running: [], samples: 0 };
    byFault.set(invoke.f, row);
    row.samples++;
    const after = (e: ClusterEvent): boolean => Number(e["at"]) >= invoke.at && newer(e, epoch);
    const published = events.find((e) => e["event"] === "published" && after(e));
    if (published) row.leader.push(Number(published["at"]) - invoke.at);
    const running = events.find((e) => e["event"] === "job-state" && e["state"] === "RUNNING" && after(e));
    if (running) row.running.push(Number(running["at"]) - invoke.at);
  }
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
