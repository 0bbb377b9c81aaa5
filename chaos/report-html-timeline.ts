// The timeline of a chaos run as one inline SVG: who led in which epoch, which faults were in effect, when
// checkpoints completed, what state each job was in, and how the clients' operations ended — on one time axis,
// so that a person can see what a verdict's problems refer to. Hover titles (<title>) give the details.
import { nemesisPhase } from "./generator.ts";
import { type Op, pairs } from "./history.ts";
import type { ClusterEvent } from "./types.ts";

export interface TimelineInput {
  readonly history: readonly Op[];
  readonly events: readonly ClusterEvent[];
  /** Wall ms; the axis spans startedAt..endedAt. */
  readonly startedAt: number;
  readonly endedAt: number;
}

/** Escapes text for HTML and SVG content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

export const JOB_STATE_COLOURS: Readonly<Record<string, string>> = {
  CREATED: "#b8b8b8",
  RUNNING: "#2e9d4e",
  RESTARTING: "#e8a23a",
  CANCELLING: "#b07cc6",
  FINISHED: "#4a78c2",
  CANCELED: "#6f6f6f",
  FAILED: "#d9443a",
};
export const OP_COLOURS: Readonly<Record<string, string>> = {
  ok: "#2e9d4e",
  fail: "#d9443a",
  info: "#e8a23a",
};
const TERMINAL = new Set(["FINISHED", "CANCELED", "FAILED"]);

const WIDTH = 1200;
const LEFT = 170;
const RIGHT = 30;
const LANE = 18;
const MAX_LANES = 40;

interface Bar {
  readonly from: number;
  readonly to: number;
  readonly fill: string;
  readonly title: string;
  readonly label?: string;
  readonly faint?: boolean;
}

interface Lane {
  readonly label: string;
  readonly bars: Bar[];
  readonly ticks?: readonly { readonly at: number; readonly colour: string; readonly title: string }[];
  /** hollow: no completion recorded. */
  readonly dots?: readonly {
    readonly at: number;
    readonly colour: string;
    readonly title: string;
    readonly hollow: boolean;
  }[];
}

export function renderTimeline(input: TimelineInput): string {
  const start = input.startedAt;
  const end = Math.max(input.endedAt, start + 1);
  const events = input.events.filter((e) => typeof e.at === "number" && typeof e.event === "string");
  const sections: [string, Lane[]][] = [
    ["leaders", leaderLanes(events, end)],
    ["faults", faultLanes(input.history, end)],
    ["checkpoints", [checkpointLane(events)]],
    ["jobs", jobLanes(events, start, end)],
    ["clients", clientLanes(input.history, end)],
  ];
  const plot = WIDTH - LEFT - RIGHT;
  const x = (at: number): number =>
    LEFT + ((Math.min(Math.max(at, start), end) - start) / (end - start)) * plot;
  const parts: string[] = [];
  let y = 28;
  for (const [name, all] of sections) {
    const lanes = all.length > MAX_LANES ? all.slice(0, MAX_LANES) : all;
    const more = all.length - lanes.length;
    parts.push(`<text x="4" y="${y + 12}" class="section">${escapeHtml(name)}</text>`);
    y += 14;
    if (lanes.length === 0) {
      parts.push(`<text x="${LEFT}" y="${y + 12}" class="none">none</text>`);
      y += LANE + 6;
      continue;
    }
    for (const lane of lanes) {
      y += LANE;
      parts.push(`<text x="${LEFT - 6}" y="${y - 5}" class="lane">${escapeHtml(lane.label)}</text>`);
      parts.push(`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y}" y2="${y}" class="grid"/>`);
      for (const bar of lane.bars) {
        const x1 = x(bar.from);
        const w = Math.max(x(bar.to) - x1, 2);
        parts.push(
          `<g${bar.faint ? ' class="faint"' : ""}><title>${escapeHtml(bar.title)}</title>` +
            `<rect x="${f(x1)}" y="${y - LANE + 3}" width="${f(w)}" height="${LANE - 5}" fill="${bar.fill}"/>` +
            // Only a label that fits (about 7 px per character at 11 px): SVG text does not clip itself.
            (bar.label && w > bar.label.length * 7 + 6
              ? `<text x="${f(x1 + 3)}" y="${y - 5}" class="bar">${escapeHtml(bar.label)}</text>`
              : "") +
            "</g>",
        );
      }
      for (const t of lane.ticks ?? []) {
        parts.push(
          `<line x1="${f(x(t.at))}" x2="${f(x(t.at))}" y1="${y - LANE + 2}" y2="${y - 1}" stroke="${t.colour}" ` +
            `class="tick"><title>${escapeHtml(t.title)}</title></line>`,
        );
      }
      for (const d of lane.dots ?? []) {
        parts.push(
          `<circle cx="${f(x(d.at))}" cy="${y - LANE / 2 + 1}" r="3" ` +
            (d.hollow ? `fill="#fff" stroke="${d.colour}">` : `fill="${d.colour}">`) +
            `<title>${escapeHtml(d.title)}</title></circle>`,
        );
      }
    }
    if (more > 0) {
      y += LANE;
      parts.push(`<text x="${LEFT}" y="${y - 5}" class="none">… ${more} more lanes not shown</text>`);
    }
    y += 10;
  }
  const height = y + 10;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
    `role="img" aria-label="timeline of the run">` +
    axis(start, end, x, height) +
    parts.join("") +
    "</svg>"
  );
}

function axis(start: number, end: number, x: (at: number) => number, height: number): string {
  const seconds = (end - start) / 1000;
  const step = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].find(
    (s) => seconds / s <= 12,
  );
  const out: string[] = [];
  for (let t = 0; t <= seconds + 1e-9; t += step ?? seconds) {
    const px = f(x(start + t * 1000));
    out.push(
      `<line x1="${px}" x2="${px}" y1="16" y2="${height - 6}" class="axis"/>` +
        `<text x="${px}" y="12" class="time">${escapeHtml(formatSeconds(t))}</text>`,
    );
    if (step === undefined) break;
  }
  return out.join("");
}

function leaderLanes(events: readonly ClusterEvent[], end: number): Lane[] {
  const lanes: { epoch: string; lane: Lane }[] = [];
  for (const [i, e] of events.entries()) {
    if (e.event !== "granted") continue;
    const epoch = text(e.epoch) ?? "?";
    const revoke = events
      .slice(i + 1)
      .find((r) => r.event === "revoked" && r.source === e.source && text(r.epoch) === epoch);
    const from = e.at as number;
    // Without a revoke the leadership ended no later than its process (a kill) or the next grant elsewhere.
    const exited = events.slice(i + 1).find((r) => r.event === "exited" && r.source === e.source);
    const superseded = events.slice(i + 1).find((r) => r.event === "granted" && r.source !== e.source);
    const endedBy = [exited, superseded]
      .filter((r) => r !== undefined)
      .sort((a, b) => (a.at as number) - (b.at as number))[0];
    const bar: Bar = revoke
      ? {
          from,
          to: revoke.at as number,
          fill: colourOf(e.source),
          title: `${e.source} led epoch ${epoch} from ${clock(from)} to ${clock(revoke.at as number)} (revoked: ${text(revoke.reason) ?? "no reason"})`,
          label: `${epoch} · ${e.source}`,
        }
      : endedBy
        ? {
            from,
            to: endedBy.at as number,
            fill: colourOf(e.source),
            title: `${e.source} led epoch ${epoch} from ${clock(from)}; no revoke seen: ${endedBy.event === "exited" ? "its process exited" : `${endedBy.source} was granted`} at ${clock(endedBy.at as number)}`,
            label: `${epoch} · ${e.source}`,
            faint: true,
          }
        : {
            from,
            to: end,
            fill: colourOf(e.source),
            title: `${e.source} granted epoch ${epoch} at ${clock(from)}; no revoke seen (still leading)`,
            label: `${epoch} · ${e.source}`,
          };
    lanes.push({ epoch, lane: { label: `epoch ${epoch} · ${e.source}`, bars: [bar] } });
  }
  return lanes.sort((a, b) => compareEpochs(a.epoch, b.epoch)).map((l) => l.lane);
}

function faultLanes(history: readonly Op[], end: number): Lane[] {
  const bars: Bar[] = [];
  const nemesis = pairs(history.filter((op) => op.process === "nemesis"));
  for (const [i, { invoke, completion }] of nemesis.entries()) {
    if (nemesisPhase(invoke.value) !== "inject") continue;
    if (completion?.type === "fail") {
      bars.push({
        from: invoke.at,
        to: completion.at,
        fill: "#bdbdbd",
        title: `${invoke.f}: inject failed at ${clock(completion.at)}: ${completion.error ?? ""}`,
        label: `${invoke.f} (failed)`,
      });
      continue;
    }
    const heal = nemesis
      .slice(i + 1)
      .find((p) => p.invoke.f === invoke.f && nemesisPhase(p.invoke.value) === "heal");
    const healed = heal?.completion?.type === "ok" ? heal.completion.at : undefined;
    bars.push({
      from: invoke.at,
      to: healed ?? end,
      fill: "#d9443a",
      title:
        `${invoke.f}: injected ${clock(invoke.at)}` +
        (completion
          ? ` (${completion.type}${completion.error ? `: ${completion.error}` : ""})`
          : " (no completion)") +
        (healed === undefined ? ", never healed" : `, healed ${clock(healed)}`),
      label: invoke.f,
      faint: healed === undefined,
    });
  }
  return pack(bars).map((row, i) => ({ label: i === 0 ? "nemesis" : "", bars: row }));
}

function checkpointLane(events: readonly ClusterEvent[]): Lane {
  const ticks = events
    .filter((e) => e.event === "checkpoint-completed" || e.event === "checkpoint-aborted")
    .map((e) => {
      const job = text(e.job) ?? "?";
      const completed = e.event === "checkpoint-completed";
      return {
        at: e.at as number,
        colour: completed ? colourOf(job) : "#bdbdbd",
        title:
          `job ${job} checkpoint ${text(e.checkpoint) ?? "?"} ${completed ? "completed" : "aborted"} at ${clock(e.at as number)}` +
          ` (epoch ${text(e.epoch) ?? "?"}, ${e.source}` +
          (completed ? `, ${text(e.durationMs) ?? "?"} ms)` : `: ${text(e.reason) ?? ""})`),
      };
    });
  return { label: "per job (grey: aborted)", bars: [], ticks };
}

function jobLanes(events: readonly ClusterEvent[], start: number, end: number): Lane[] {
  const byJob = new Map<string, ClusterEvent[]>();
  for (const e of events) {
    if (e.event !== "job-state") continue;
    const job = text(e.job);
    if (job === undefined) continue;
    byJob.set(job, [...(byJob.get(job) ?? []), e]);
  }
  // A terminal state is drawn as a short cap, so that a lane is free again for jobs that start later.
  const cap = (end - start) / 150;
  const jobs: { job: string; bars: Bar[] }[] = [];
  for (const [job, states] of byJob) {
    const bars = states.map((e, i): Bar => {
      const state = text(e.state) ?? "?";
      const from = e.at as number;
      const next = states[i + 1];
      const to = next ? (next.at as number) : TERMINAL.has(state) ? Math.min(from + cap, end) : end;
      return {
        from,
        to,
        fill: JOB_STATE_COLOURS[state] ?? "#999999",
        title: `job ${job}: ${state} from ${clock(from)} (epoch ${text(e.epoch) ?? "?"}, ${e.source})`,
        label: state,
      };
    });
    jobs.push({ job, bars });
  }
  const rows: { jobs: string[]; bars: Bar[]; until: number }[] = [];
  for (const { job, bars } of jobs.sort((a, b) => a.bars[0]!.from - b.bars[0]!.from)) {
    const from = bars[0]!.from;
    const row = rows.find((r) => r.until < from);
    const until = bars[bars.length - 1]!.to;
    if (row) {
      row.jobs.push(job);
      row.bars.push(...bars);
      row.until = until;
    } else {
      rows.push({ jobs: [job], bars: [...bars], until });
    }
  }
  return rows.map((r) => ({
    label: r.jobs.length === 1 ? shorten(r.jobs[0]!) : `${r.jobs.length} jobs`,
    bars: r.bars,
  }));
}

function clientLanes(history: readonly Op[], end: number): Lane[] {
  const byProcess = new Map<
    number,
    { bars: Bar[]; dots: { at: number; colour: string; title: string; hollow: boolean }[] }
  >();
  for (const { invoke, completion } of pairs(history)) {
    if (invoke.process === "nemesis") continue;
    let lane = byProcess.get(invoke.process);
    if (lane === undefined) {
      lane = { bars: [], dots: [] };
      byProcess.set(invoke.process, lane);
    }
    const type = completion?.type ?? "info";
    const title =
      `op ${invoke.index} ${invoke.f} → ${completion ? `${completion.type} (op ${completion.index})` : "no completion"}` +
      (completion?.error ? `: ${completion.error}` : "");
    const to = completion?.at ?? end;
    lane.bars.push({ from: invoke.at, to, fill: "#d6d6d6", title });
    lane.dots.push({
      at: to,
      colour: OP_COLOURS[type] ?? "#999999",
      title,
      hollow: completion === undefined,
    });
  }
  return [...byProcess]
    .sort(([a], [b]) => a - b)
    .map(([process, lane]) => ({ label: `client ${process}`, bars: lane.bars, dots: lane.dots }));
}

/** Bars into as few rows as possible, none overlapping within a row. */
function pack(bars: readonly Bar[]): Bar[][] {
  const rows: { bars: Bar[]; until: number }[] = [];
  for (const bar of [...bars].sort((a, b) => a.from - b.from)) {
    const row = rows.find((r) => r.until <= bar.from);
    if (row) {
      row.bars.push(bar);
      row.until = bar.to;
    } else {
      rows.push({ bars: [bar], until: bar.to });
    }
  }
  return rows.map((r) => r.bars);
}

/** A field as text (epochs and ids arrive as decimal strings or numbers); undefined when absent or an object. */
function text(value: unknown): string | undefined {
  return typeof value === "string" || typeof value === "number" || typeof value === "bigint"
    ? String(value)
    : undefined;
}

function compareEpochs(a: string, b: string): number {
  const [x, y] = [/^\d+$/.test(a) ? BigInt(a) : -1n, /^\d+$/.test(b) ? BigInt(b) : -1n];
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A stable colour per name (member or job): an FNV-1a hash to a hue. */
export function colourOf(name: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return `hsl(${(h >>> 0) % 360} 55% 48%)`;
}

function clock(at: number): string {
  return new Date(at).toISOString().slice(11, 23);
}

function formatSeconds(t: number): string {
  const s = Math.round(t * 10) / 10;
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${s % 60 === 0 ? "" : `${Math.round(s % 60)}s`}`;
}

function shorten(name: string): string {
  return name.length <= 24 ? name : `${name.slice(0, 10)}…${name.slice(-12)}`;
}

/** A coordinate with at most one decimal. */
function f(n: number): string {
  return String(Math.round(n * 10) / 10);
}
