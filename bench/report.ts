// Tables for stdout and bench/RESULTS.md. The same markdown table goes to both. RESULTS.md keeps one section
// per benchmark between markers; a run with --only rewrites its own section and keeps the others.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { HandoverResult } from "./failover.ts";
import { seconds, summarize } from "./stats.ts";
import type { StoreRow } from "./store.ts";

export type Section = "failover" | "graceful" | "store";
export const SECTIONS: readonly Section[] = ["failover", "graceful", "store"];

export interface HandoverRow {
  readonly backend: "etcd" | "zookeeper";
  readonly contestant: string;
  readonly result: HandoverResult;
  /** p99 bound in ms for vigil rows; undefined for baselines (they are the reference, not under test). */
  readonly targetMs: number | undefined;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
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
