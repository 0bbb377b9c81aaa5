// Tables (stdout and RESULTS.md alike) and the lines under them for the four streaming benchmarks.
import { table } from "./report.ts";
import { summarize } from "./stats.ts";
import type { ChainResult } from "./streaming-chain.ts";
import {
  type MemoryPoint,
  type MemoryResult,
  memoryVerdict,
  memoryWarmup,
  mib,
  trend,
} from "./streaming-memory.ts";
import type { ShuffleResult, ShuffleRound } from "./streaming-shuffle.ts";

/** Nearest-rank median (stats.ts); NaN for no values. */
export function median(values: readonly number[]): number {
  return summarize(values)?.median ?? Number.NaN;
}

/** Records per second, rounded to thousands. */
export const rate = (v: number): string =>
  Number.isFinite(v) ? `${Math.round(v / 1000).toLocaleString("en-US")}k` : "—";
export const spread = (values: readonly number[]): [string, string, string] =>
  values.length === 0
    ? ["—", "—", "—"]
    : [rate(median(values)), rate(Math.min(...values)), rate(Math.max(...values))];
const ratio = (a: number, b: number): string => (b > 0 && Number.isFinite(a) ? (a / b).toFixed(2) : "—");

export function chainTable(r: ChainResult): string {
  const loop = median(r.loop);
  return table(
    ["pipeline (one task, records of the source)", "rounds", "median rec/s", "min", "max", "vs loop"],
    [
      [
        "vigil runStreamTask: sequence → map → filter → discard",
        String(r.runtime.length),
        ...spread(r.runtime),
        ratio(median(r.runtime), loop),
      ],
      ["plain Node loop: the same map, filter and sink", String(r.loop.length), ...spread(r.loop), "1.00"],
    ],
  );
}

/** CPU time of both processes per record over the round's window, in µs. */
function cpuPerRecord(x: ShuffleRound): number {
  const records = (x.recordsPerSecond * x.producerCpu.wallMs) / 1000;
  return records > 0 ? ((x.producerCpu.cpuMs + x.consumerCpu.cpuMs) * 1000) / records : Number.NaN;
}

export function shuffleTable(r: ShuffleResult): string {
  const of = (c: ShuffleRound["contestant"]): ShuffleRound[] => r.rounds.filter((x) => x.contestant === c);
  const raw = median(of("raw").map((x) => x.recordsPerSecond));
  const row = (label: string, rounds: readonly ShuffleRound[]): string[] => [
    label,
    String(rounds.length),
    ...spread(rounds.map((x) => x.recordsPerSecond)),
    `${median(rounds.map((x) => x.producerCpu.percentOfCore)).toFixed(0)} / ${median(rounds.map((x) => x.consumerCpu.percentOfCore)).toFixed(0)}`,
    median(rounds.map(cpuPerRecord)).toFixed(2),
    median(rounds.map((x) => x.otherCpuPercent)).toFixed(0),
    ratio(median(rounds.map((x) => x.recordsPerSecond)), raw),
  ];
  return table(
    [
      "keyBy exchange, 2 → 2 subtasks, TM A → TM B",
      "rounds",
      "median rec/s",
      "min",
      "max",
      "CPU % A / B",
      "CPU µs/rec A+B",
      "others' CPU %",
      "vs raw",
    ],
    [
      row("vigil DataExchange (credits, bounded buffers)", of("vigil")),
      row("raw grpc-js bidi streams, same buffers and bytes", of("raw")),
    ],
  );
}

export function shuffleDetails(r: ShuffleResult): string {
  const lines = r.rounds.map(
    (x, i) =>
      `- round ${Math.floor(i / 2) + 1} ${x.contestant}: ${rate(x.recordsPerSecond)} records/s, CPU of TM A ` +
      `${x.producerCpu.percentOfCore.toFixed(0)} % and TM B ${x.consumerCpu.percentOfCore.toFixed(0)} % of a core, ` +
      `${cpuPerRecord(x).toFixed(2)} µs CPU per record; other processes ${x.otherCpuPercent.toFixed(0)} %`,
  );
  const ratios: number[] = [];
  for (let i = 0; i + 1 < r.rounds.length; i += 2) {
    const [raw, vigil] = [r.rounds[i]!, r.rounds[i + 1]!];
    if (raw.contestant === "raw" && vigil.contestant === "vigil" && raw.recordsPerSecond > 0)
      ratios.push(vigil.recordsPerSecond / raw.recordsPerSecond);
  }
  if (ratios.length > 0)
    lines.push(
      `- vigil / raw within each round: ${ratios.map((x) => x.toFixed(2)).join(", ")} (median ${median(ratios).toFixed(2)})`,
    );
  if (r.error !== undefined) lines.push(`- stopped early: ${r.error.slice(0, 1500)}`);
  return lines.join("\n");
}

export function memoryTable(r: MemoryResult): string {
  const warmup = memoryWarmup(r.points.filter((p) => p.t > 0).length);
  const rows: [string, (p: MemoryPoint) => number][] = [
    ["TM A (source) RSS", (p) => p.producer.rss],
    ["TM A (source) heapUsed", (p) => p.producer.heapUsed],
    ["TM B (slow sink) RSS", (p) => p.consumer.rss],
    ["TM B (slow sink) heapUsed", (p) => p.consumer.heapUsed],
  ];
  const body = rows.map(([label, pick]) => {
    const t = trend(r.points, warmup, pick);
    return [
      label,
      mib(t.idle),
      mib(t.min),
      mib(t.max),
      mib(t.end),
      `${mib(t.firstHalfMax)} → ${mib(t.secondHalfMax)}`,
      (t.slope / 2 ** 20).toFixed(2),
    ];
  });
  const v = memoryVerdict(r);
  const memory = table(
    [
      "process · MiB",
      "idle",
      "min",
      "max",
      "end",
      `peak 1st → 2nd half (after ${warmup} s)`,
      "slope MiB/min, 2nd half",
    ],
    body,
  );
  const bound = table(
    ["records in flight (source emitted − sink took)", "max", "bound", "verdict"],
    [
      [
        `${r.bound.channels} channel × ${r.bound.buffersPerChannel} buffers × 512 + the sources' batches`,
        String(v.inFlightMax),
        String(r.bound.records),
        `${v.bounded ? "bounded" : "NOT BOUNDED"}, ${v.flat ? "flat" : "NOT FLAT"}`,
      ],
    ],
  );
  return `${memory}\n\n${bound}`;
}

export function memoryDetails(r: MemoryResult, sinkRate: number): string {
  const run = r.points.filter((p) => p.t > 0);
  const first = run[0];
  const last = run[run.length - 1];
  const lines: string[] = [];
  if (first !== undefined && last !== undefined && last.t > first.t) {
    const span = last.t - first.t;
    lines.push(
      `- rates from ${first.t} s to ${last.t} s: the sources emitted ${Math.round((last.emitted - first.emitted) / span)} records/s, ` +
        `the sinks took ${Math.round((last.taken - first.taken) / span)} records/s (set: ${sinkRate} per subtask)`,
    );
  }
  lines.push(
    `- buffer bound in bytes: ${r.bound.channels} × ${r.bound.buffersPerChannel} buffers × ${(r.bound.bufferBytes / 1024).toFixed(1)} KiB ` +
      `(512 records as a JS array at ≤ 8 B each, plus the encoded copy) = ${(r.bound.bytes / 1024).toFixed(0)} KiB`,
  );
  const series = (pick: (p: MemoryPoint) => number): string => run.map((p) => mib(pick(p))).join(" ");
  lines.push(`- TM A RSS (MiB, 1 s apart): ${series((p) => p.producer.rss)}`);
  lines.push(`- TM A heapUsed: ${series((p) => p.producer.heapUsed)}`);
  lines.push(`- TM B RSS: ${series((p) => p.consumer.rss)}`);
  lines.push(`- TM B heapUsed: ${series((p) => p.consumer.heapUsed)}`);
  lines.push(`- records in flight: ${run.map((p) => p.emitted - p.taken).join(" ")}`);
  for (const f of r.failures.slice(0, 5)) lines.push(`- task failed: ${f.slice(0, 400)}`);
  if (r.error !== undefined) lines.push(`- stopped early: ${r.error.slice(0, 1500)}`);
  return lines.join("\n");
}
