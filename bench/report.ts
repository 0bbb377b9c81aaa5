// Tables for stdout and bench/RESULTS.md. The same markdown table goes to both. RESULTS.md keeps one section
// per benchmark between markers; a run with --only rewrites its own section and keeps the others.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { HandoverResult } from "./failover.ts";
import type { JobFailoverResult } from "./jobs-failover.ts";
import { seconds, summarize } from "./stats.ts";
import type { StoreRow } from "./store.ts";
import { mib, type ScaleResult } from "./taskmanager-scale.ts";

export type Section =
  | "failover"
  | "graceful"
  | "store"
  | "jobs-failover"
  | "taskmanager-scale"
  | "stream-chain"
  | "stream-shuffle"
  | "stream-checkpoints"
  | "stream-memory";
export const SECTIONS: readonly Section[] = [
  "failover",
  "graceful",
  "store",
  "jobs-failover",
  "taskmanager-scale",
  "stream-chain",
  "stream-shuffle",
  "stream-checkpoints",
  "stream-memory",
];

export interface HandoverRow {
  readonly backend: "etcd" | "zookeeper";
  readonly contestant: string;
  readonly result: HandoverResult;
  /** p99 bound in ms for vigil rows; undefined for baselines (they are the reference, not under test). */
  readonly targetMs: number | undefined;
}

/** A markdown table with padded columns (the same text on stdout and in RESULTS.md). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

export function handoverTable(rows: readonly HandoverRow[]): string {
  const body = rows.map((r) => {
    const s = summarize(r.result.samples);
    const target = r.targetMs === undefined ? "reference" : `p99 ≤ ${seconds(r.targetMs)}`;
    let verdict: string;
    if (r.result.error !== undefined) verdict = `FAILED after ${r.result.samples.length} rounds`;
    else if (!s) verdict = "no samples";
    else if (r.targetMs === undefined) verdict = "—";
    else verdict = s.p99 <= r.targetMs ? "met" : "MISSED";
    return [
      `${r.backend} · ${r.contestant}`,
      String(s?.n ?? 0),
      s ? seconds(s.min) : "—",
      s ? seconds(s.median) : "—",
      s ? seconds(s.p99) : "—",
      s ? seconds(s.max) : "—",
      target,
      verdict,
    ];
  });
  return table(["contestant", "n", "min s", "median s", "p99 s", "max s", "target", "verdict"], body);
}

/** The raw samples and anything odd, for RESULTS.md under the table. */
export function handoverDetails(rows: readonly HandoverRow[]): string {
  const out: string[] = [];
  for (const r of rows) {
    const samples = r.result.samples.map((ms) => seconds(ms)).join(", ");
    const over =
      r.targetMs === undefined
        ? ""
        : ` (${r.result.samples.filter((ms) => ms > r.targetMs!).length} of ${r.result.samples.length} above the target)`;
    out.push(`- ${r.backend} · ${r.contestant}: ${samples || "none"}${over}`);
    if (r.result.error !== undefined) out.push(`  - stopped early: ${r.result.error}`);
    const anomalies = [...new Set(r.result.anomalies)];
    for (const a of anomalies.slice(0, 5)) out.push(`  - anomaly: ${a.slice(0, 300)}`);
    if (anomalies.length > 5) out.push(`  - … and ${anomalies.length - 5} more anomalies`);
  }
  return out.join("\n");
}

/** One row per backend and measure; only "job RUNNING" has a target (DESIGN.md §6). */
export function jobFailoverTable(results: readonly JobFailoverResult[], runningTargetMs: number): string {
  const body: string[][] = [];
  for (const r of results) {
    const measures: ReadonlyArray<[string, number[], number | undefined]> = [
      ["new leader published", r.rounds.map((x) => x.publishedMs), undefined],
      ["TaskManagers re-registered", r.rounds.map((x) => x.registeredMs), undefined],
      ["job RUNNING", r.rounds.map((x) => x.runningMs), runningTargetMs],
    ];
    for (const [label, samples, targetMs] of measures) {
      const s = summarize(samples);
      let verdict: string;
      if (targetMs === undefined) verdict = "—";
      else if (r.error !== undefined) verdict = `FAILED after ${samples.length} rounds`;
      else if (!s) verdict = "no samples";
      else verdict = s.p99 <= targetMs ? "met" : "MISSED";
      body.push([
        `${r.backend} · ${label}`,
        String(s?.n ?? 0),
        s ? seconds(s.min) : "—",
        s ? seconds(s.median) : "—",
        s ? seconds(s.p99) : "—",
        s ? seconds(s.max) : "—",
        targetMs === undefined ? "—" : `p99 ≤ ${seconds(targetMs)}`,
        verdict,
      ]);
    }
  }
  return table(
    ["backend · from the SIGKILL to", "n", "min s", "median s", "p99 s", "max s", "target", "verdict"],
    body,
  );
}

/** Every round, then anything odd, for RESULTS.md under the table. */
export function jobFailoverDetails(results: readonly JobFailoverResult[], runningTargetMs: number): string {
  const out: string[] = [];
  for (const r of results) {
    const over = r.rounds.filter((x) => x.runningMs > runningTargetMs).length;
    out.push(
      `- ${r.backend} (${r.serverVersion}), ${r.rounds.length} rounds, ${over} with RUNNING above the target; ` +
        "published / re-registered / RUNNING (s):",
    );
    for (const [i, x] of r.rounds.entries()) {
      out.push(
        `  - ${i + 1}: ${seconds(x.publishedMs)} / ${seconds(x.registeredMs)} / ${seconds(x.runningMs)} ` +
          `(${x.killed} killed, ${x.leader} leads at epoch ${x.epoch})`,
      );
    }
    if (r.error !== undefined) out.push(`  - stopped early: ${r.error.slice(0, 1500).replace(/\n/g, " ⏎ ")}`);
    const after = summarize(r.rounds.map((x) => x.runningMs - x.publishedMs));
    if (after) {
      out.push(
        `  - from the publication to RUNNING: median ${seconds(after.median)} s, max ${seconds(after.max)} s (the rest is the election)`,
      );
    }
    for (const n of r.notes) out.push(`  - events over the run: ${n}`);
    const anomalies = [...new Set(r.anomalies)];
    if (anomalies.length === 0)
      out.push("  - anomalies: none (no subtask overlap, no failed recovery, the job ends RUNNING)");
    for (const a of anomalies.slice(0, 8)) out.push(`  - anomaly: ${a.slice(0, 400)}`);
    if (anomalies.length > 8) out.push(`  - … and ${anomalies.length - 8} more anomalies`);
  }
  return out.join("\n");
}

export function scaleTable(result: ScaleResult): string {
  const ms = (v: number | undefined): string => (v === undefined ? "—" : v.toFixed(1));
  const body = result.rows.map((r) => [
    String(r.taskmanagers),
    r.jobmanagerCpu.percentOfCore.toFixed(1),
    `${mib(r.rssBytes)} (${mib(r.rssPeakBytes)})`,
    String(r.connections),
    String(r.heartbeats),
    ms(r.rttP50Ms),
    ms(r.rttP99Ms),
    r.notRegistered === 0 && r.failed === 0 ? "0" : `${r.notRegistered} / ${r.failed}`,
    r.benchCpu.percentOfCore.toFixed(1),
  ]);
  return table(
    [
      "TaskManagers",
      "leader CPU % of a core",
      "leader RSS MiB (peak)",
      "TCP conns",
      "heartbeats",
      "RTT p50 ms",
      "RTT p99 ms",
      "not registered / failed",
      "load generator CPU %",
    ],
    body,
  );
}

/** Failures and anomalies of the scale run, for RESULTS.md under the table. */
export function scaleDetails(result: ScaleResult): string {
  const out: string[] = [`- ${result.serverVersion}`];
  for (const r of result.rows) {
    out.push(
      `- ${r.taskmanagers} TaskManagers: leader CPU ${r.jobmanagerCpu.cpuMs.toFixed(0)} ms in ${seconds(r.jobmanagerCpu.wallMs)} s; ` +
        `heartbeat RTT max ${r.rttMaxMs === undefined ? "—" : r.rttMaxMs.toFixed(1)} ms; ` +
        `load generator CPU ${r.benchCpu.cpuMs.toFixed(0)} ms`,
    );
    for (const f of r.failures) out.push(`  - failed: ${f.slice(0, 300)}`);
  }
  if (result.error !== undefined)
    out.push(`- stopped early: ${result.error.slice(0, 1500).replace(/\n/g, " ⏎ ")}`);
  for (const a of [...new Set(result.anomalies)].slice(0, 8)) out.push(`- anomaly: ${a.slice(0, 400)}`);
  if (result.anomalies.length === 0)
    out.push("- anomalies: none (no TaskManager lost, leadership held throughout)");
  return out.join("\n");
}

export function storeTable(rows: readonly StoreRow[]): string {
  const body = rows.map((r) => {
    const ratio = r.rawOpsPerSec > 0 ? r.fencedOpsPerSec / r.rawOpsPerSec : 0;
    return [
      `${r.backend} · ${r.op}`,
      r.rawOpsPerSec.toFixed(0),
      r.fencedOpsPerSec.toFixed(0),
      ratio.toFixed(2),
      "≥ 0.50",
      ratio >= 0.5 ? "met" : "MISSED",
    ];
  });
  return table(["operation", "raw ops/s", "fenced ops/s", "fenced/raw", "target", "verdict"], body);
}

const begin = (s: Section): string => `<!-- bench:${s} -->`;
const end = (s: Section): string => `<!-- /bench:${s} -->`;

/**
 * What the head of the existing RESULTS.md says about sections a run does not measure again: the servers
 * line of each section ("  - <section>: …" under "- Servers:") and the server versions on the Software line.
 */
export function previousHeader(path: string): { servers: Map<string, string>; versions: string[] } {
  const servers = new Map<string, string>();
  const versions: string[] = [];
  if (!existsSync(path)) return { servers, versions };
  const lines = readFileSync(path, "utf8").split("\n");
  const at = lines.indexOf("- Servers:");
  for (let i = at + 1; at >= 0 && i < lines.length && lines[i]!.startsWith("  - "); i++) {
    const m = /^ {2}- ([a-z-]+): (.*)$/.exec(lines[i]!);
    if (m) servers.set(m[1]!, m[2]!);
  }
  const software = lines.find((l) => l.startsWith("- Software: "));
  for (const part of software?.slice("- Software: ".length).split("; ") ?? []) {
    if (/^(etcd|ZooKeeper) server /.test(part)) versions.push(part);
  }
  return { servers, versions };
}

/** Replaces the given sections of RESULTS.md (and its header); keeps sections this run did not measure. */
export function writeResults(path: string, header: string, sections: Partial<Record<Section, string>>): void {
  const old = existsSync(path) ? readFileSync(path, "utf8") : "";
  const parts = [header.trimEnd(), ""];
  for (const s of SECTIONS) {
    const fresh = sections[s];
    if (fresh !== undefined) {
      parts.push(begin(s), fresh.trimEnd(), end(s), "");
      continue;
    }
    const i = old.indexOf(begin(s));
    const j = old.indexOf(end(s));
    if (i >= 0 && j > i) parts.push(old.slice(i, j + end(s).length), "");
  }
  writeFileSync(path, parts.join("\n"));
}
