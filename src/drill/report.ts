// What a drill measured and how it is shown: a table row and a JSON object per drill, and a summary
// (nearest-rank p50 and max) over the drills that recovered.
import { percentile } from "../common/stats.ts";
import { table } from "../cli/job-format.ts";

export type DrillMode = "kill" | "pause" | "graceful";

export interface LeaderView {
  readonly name: string;
  readonly epoch: bigint;
  readonly address: string;
}

/** A JobManager the drill stopped and started again. */
export interface Restart {
  readonly name: string;
  readonly stoppedPid: number;
  /** The new process; undefined when it could not be started (see error). */
  readonly pid: number | undefined;
  /** Where its stdout and stderr go; undefined when vigil drill did not start it (something else did first). */
  readonly log: string | undefined;
  /** Where it answered GetLeader once up. */
  readonly address: string | undefined;
  readonly error: string | undefined;
}

export interface DrillResult {
  /** 1-based. */
  readonly drill: number;
  readonly mode: DrillMode;
  /** A new leader was published and every job RUNNING before runs again under it, within the bound. */
  readonly recovered: boolean;
  readonly oldLeader: LeaderView & { readonly pid: number };
  readonly newLeader: LeaderView | undefined;
  /** From the signal to a published leader with a higher epoch. */
  readonly timeToNewLeaderMs: number | undefined;
  /** From the signal to every job that was RUNNING being RUNNING under the new leader's epoch. */
  readonly timeToJobsRunningMs: number | undefined;
  /** The jobs RUNNING before the drill. */
  readonly jobs: readonly string[];
  readonly restarted: readonly Restart[];
  /** Why it failed (empty when it recovered and everything it stopped runs again). */
  readonly problems: readonly string[];
  /** What was seen last, for a failed drill: the leader changes and the last job listing. */
  readonly lastSeen: readonly string[];
}

export interface Stats {
  readonly p50: number;
  readonly max: number;
}

export interface DrillSummary {
  readonly kind: "summary";
  readonly mode: DrillMode;
  /** Drills asked for (--kills). */
  readonly planned: number;
  readonly run: number;
  readonly recovered: number;
  readonly failed: number;
  readonly timeToNewLeaderMs: Stats | null;
  readonly timeToJobsRunningMs: Stats | null;
  /** Every drill recovered, every one planned ran, and everything stopped runs again. */
  readonly ok: boolean;
}

function stats(values: readonly (number | undefined)[]): Stats | null {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length === 0 ? null : { p50: percentile(known, 50), max: Math.max(...known) };
}

/** A drill that recovered but left a JobManager stopped still counts as failed. */
export function passed(r: DrillResult): boolean {
  return r.recovered && r.problems.length === 0;
}

export function summarize(results: readonly DrillResult[], mode: DrillMode, planned: number): DrillSummary {
  const ok = results.filter(passed);
  const recovered = results.filter((r) => r.recovered);
  return {
    kind: "summary",
    mode,
    planned,
    run: results.length,
    recovered: recovered.length,
    failed: results.length - ok.length,
    timeToNewLeaderMs: stats(recovered.map((r) => r.timeToNewLeaderMs)),
    timeToJobsRunningMs: stats(recovered.map((r) => r.timeToJobsRunningMs)),
    ok: results.length === planned && ok.length === planned,
  };
}

/** One JSON object per drill (bigints are printed as decimal strings by the CLI's jsonLine). */
export function drillJson(r: DrillResult): Record<string, unknown> {
  return {
    kind: "drill",
    drill: r.drill,
    mode: r.mode,
    ok: passed(r),
    recovered: r.recovered,
    oldLeader: r.oldLeader,
    newLeader: r.newLeader ?? null,
    timeToNewLeaderMs: r.timeToNewLeaderMs ?? null,
    timeToJobsRunningMs: r.timeToJobsRunningMs ?? null,
    jobs: r.jobs,
    restarted: r.restarted.map((x) => ({
      name: x.name,
      stoppedPid: x.stoppedPid,
      pid: x.pid ?? null,
      log: x.log ?? null,
      ...(x.address !== undefined && { address: x.address }),
      ...(x.error !== undefined && { error: x.error }),
    })),
    ...(r.problems.length > 0 && { problems: r.problems }),
    ...(r.lastSeen.length > 0 && { lastSeen: r.lastSeen }),
  };
}

const ms = (v: number | undefined): string => (v === undefined ? "-" : `${Math.round(v)} ms`);
const leader = (l: LeaderView | undefined): string => (l ? `${l.name} (epoch ${l.epoch})` : "none");

export function drillTable(results: readonly DrillResult[]): string {
  return table(
    ["DRILL", "MODE", "OLD LEADER", "NEW LEADER", "TO NEW LEADER", "TO JOBS RUNNING", "RESULT"],
    results.map((r) => [
      String(r.drill),
      r.mode,
      leader(r.oldLeader),
      leader(r.newLeader),
      ms(r.timeToNewLeaderMs),
      ms(r.timeToJobsRunningMs),
      passed(r) ? "recovered" : r.recovered ? "recovered, restart failed" : "FAILED",
    ]),
  );
}

export function summaryText(s: DrillSummary): string {
  const line = (what: string, v: Stats | null): string =>
    `${what.padEnd(22)}${v ? `p50 ${ms(v.p50)}, max ${ms(v.max)}` : "-"}`;
  const notRun = s.planned - s.run;
  return [
    `${s.recovered} of ${s.planned} drills (${s.mode}) recovered` + (notRun > 0 ? `; ${notRun} not run` : ""),
    line("time to new leader:", s.timeToNewLeaderMs),
    line("time to jobs running:", s.timeToJobsRunningMs),
    "",
  ].join("\n");
}

/** Several lines for stderr: why drill N failed and what was seen last. */
export function failureText(r: DrillResult): string {
  const lines = [`drill ${r.drill} (${r.mode}) FAILED:`, ...r.problems.map((p) => `  - ${p}`)];
  if (r.lastSeen.length > 0) lines.push("  last seen:", ...r.lastSeen.map((s) => `    ${s}`));
  return lines.join("\n") + "\n";
}
