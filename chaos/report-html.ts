// The HTML report of a chaos run: one self-contained file (inline CSS and SVG, no script, no external assets)
// that a person opens in a browser to see the verdict, how to reproduce it, the failover times and a timeline.
// Every string from the run (names, errors, problems, the command) is escaped: a job name or an error message
// must never become markup.
import type { Op } from "./history.ts";
import { escapeHtml, JOB_STATE_COLOURS, OP_COLOURS, renderTimeline } from "./report-html-timeline.ts";
import type { ClusterEvent, Validity, Verdict } from "./types.ts";

/** A table given as columns and rows (the runner computes the failover statistics). */
export interface ReportTable {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number)[])[];
}

export interface ReportInput {
  readonly title: string;
  readonly workload: string;
  readonly backend: string;
  readonly nemesis: readonly string[];
  readonly seed: string;
  /** The exact command line that reproduces the run. */
  readonly command: string;
  readonly verdicts: readonly Verdict[];
  readonly overall: Validity;
  /** E.g. columns ["fault", "n", "new leader p50", …]; an empty table when no failover happened. */
  readonly failover: ReportTable;
  readonly history: readonly Op[];
  /** Sorted by `at`. */
  readonly events: readonly ClusterEvent[];
  /** Wall-clock ms of the run's start and end (the timeline's axis). */
  readonly startedAt: number;
  readonly endedAt: number;
}

const VALIDITY: Readonly<Record<string, { readonly text: string; readonly cls: string }>> = {
  true: { text: "valid", cls: "valid" },
  false: { text: "INVALID", cls: "invalid" },
  unknown: { text: "unknown", cls: "unknown" },
};

export function renderReport(input: ReportInput): string {
  const e = escapeHtml;
  const overall = VALIDITY[String(input.overall)]!;
  const seconds = ((input.endedAt - input.startedAt) / 1000).toFixed(1);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(input.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${e(input.title)} <span class="badge ${overall.cls}">${e(overall.text)}</span></h1>
<dl>
<dt>workload</dt><dd>${e(input.workload)}</dd>
<dt>backend</dt><dd>${e(input.backend)}</dd>
<dt>nemesis</dt><dd>${input.nemesis.length === 0 ? "none" : input.nemesis.map((n) => `<code>${e(n)}</code>`).join(", ")}</dd>
<dt>seed</dt><dd><code>${e(input.seed)}</code></dd>
<dt>run</dt><dd>${e(iso(input.startedAt))} – ${e(iso(input.endedAt))} (${e(seconds)} s)</dd>
</dl>
<p>Reproduce:</p>
<pre><code>${e(input.command)}</code></pre>
</header>
<section>
<h2>Invariants</h2>
${verdictTable(input.verdicts)}
</section>
<section>
<h2>Failover</h2>
${table(input.failover, "no failover measured")}
</section>
<section>
<h2>Timeline</h2>
<div class="timeline">${renderTimeline(input)}</div>
${legend()}
</section>
<section>
<h2>Operations</h2>
${table(operationCounts(input.history), "no operations")}
</section>
</body>
</html>
`;
}

function verdictTable(verdicts: readonly Verdict[]): string {
  if (verdicts.length === 0) return `<p class="none">no checkers ran</p>`;
  const rows = verdicts.map((v) => {
    const validity = VALIDITY[String(v.valid)]!;
    return (
      `<tr class="verdict ${validity.cls}"><td>${escapeHtml(v.id)}</td><td>${escapeHtml(v.name)}</td>` +
      `<td class="validity">${escapeHtml(validity.text)}</td><td>${list(v.problems)}</td>` +
      `<td>${list(v.evidence ?? [])}</td></tr>`
    );
  });
  return (
    `<table class="verdicts"><thead><tr><th>id</th><th>invariant</th><th>verdict</th><th>problems</th>` +
    `<th>evidence</th></tr></thead><tbody>\n${rows.join("\n")}\n</tbody></table>`
  );
}

function table(t: ReportTable, empty: string): string {
  if (t.rows.length === 0) return `<p class="none">${escapeHtml(empty)}</p>`;
  const head = t.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
  const body = t.rows
    .map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(String(cell))}</td>`).join("")}</tr>`)
    .join("\n");
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function list(items: readonly string[]): string {
  if (items.length === 0) return "";
  return `<ul>${items.map((i) => `<li>${escapeHtml(i)}</li>`).join("")}</ul>`;
}

/** Completions per operation: ok, fail, info, and invocations left open. */
function operationCounts(history: readonly Op[]): ReportTable {
  const counts = new Map<string, { invoke: number; ok: number; fail: number; info: number }>();
  for (const op of history) {
    const key = op.process === "nemesis" ? `${op.f} (nemesis)` : op.f;
    const c = counts.get(key) ?? { invoke: 0, ok: 0, fail: 0, info: 0 };
    c[op.type]++;
    counts.set(key, c);
  }
  return {
    columns: ["operation", "invoked", "ok", "fail", "info", "open"],
    rows: [...counts]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([f, c]) => [f, c.invoke, c.ok, c.fail, c.info, c.invoke - c.ok - c.fail - c.info]),
  };
}

function legend(): string {
  const swatch = (colour: string, label: string): string =>
    `<span class="swatch" style="background:${colour}"></span>${escapeHtml(label)}`;
  const states = Object.entries(JOB_STATE_COLOURS).map(([s, c]) => swatch(c, s));
  const ops = Object.entries(OP_COLOURS).map(([t, c]) => swatch(c, t));
  return (
    `<p class="legend">job states: ${states.join(" ")}</p>` +
    `<p class="legend">client operations (dot at the completion, hollow when none was recorded; grey bar while in flight): ${ops.join(" ")}` +
    ` — leaders and faults drawn faint had no revoke / heal recorded. Hover for details.</p>`
  );
}

function iso(at: number): string {
  return Number.isFinite(at) ? new Date(at).toISOString() : "?";
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;max-width:1240px}
h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0}dt{color:#666}dd{margin:0}
pre{background:#f4f4f4;padding:8px 10px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td ul{margin:0;padding-left:18px}
.badge{font-size:14px;padding:2px 10px;border-radius:10px;color:#fff;vertical-align:middle}
.badge.valid{background:#2e9d4e}.badge.invalid{background:#d9443a}.badge.unknown{background:#e8a23a}
tr.valid .validity{color:#2e7d3e;font-weight:600}tr.invalid .validity{color:#c0392b;font-weight:700}
tr.invalid{background:#fdf0ef}tr.unknown .validity{color:#b7791f;font-weight:600}
.none{color:#888;font-style:italic}.legend{color:#555;font-size:13px}
.swatch{display:inline-block;width:11px;height:11px;margin:0 4px 0 10px;vertical-align:-1px;border-radius:2px}
.timeline{overflow-x:auto;border:1px solid #ddd}
svg text{font:11px system-ui,sans-serif;fill:#333}svg text.section{font-weight:700;font-size:12px}
svg text.lane{text-anchor:end}svg text.bar{fill:#fff;pointer-events:none}svg text.time{text-anchor:middle;fill:#777}
svg text.none{fill:#999;font-style:italic}svg .grid{stroke:#eee}svg .axis{stroke:#f0f0f0}
svg .tick{stroke-width:2}svg .faint{opacity:.45}
`;
