// The verdict, table and lines of stream-checkpoints. Phases come in adjacent pairs (one without checkpoints,
// one with); a pair counts for the verdict only when other processes left the machine quiet in both of its
// windows, since on this shared 2-core machine a test suite of another session starting in one window moves
// its throughput by far more than the 5 % the target is about.
import { table } from "./report.ts";
import {
  CHECKPOINT_LOSS_TARGET,
  type CheckpointPhase,
  type CheckpointResult,
} from "./streaming-checkpoints.ts";
import { median, rate, spread } from "./streaming-report.ts";

/** A window is quiet when other processes took less than this share of one core during it. */
export const QUIET_OTHER_CPU_PERCENT = 20;
/** Fewer quiet pairs than this and the verdict is "inconclusive". */
const MIN_QUIET_PAIRS = 3;

export interface CheckpointVerdict {
  readonly pairs: number;
  readonly quietPairs: number;
  /** 1 − with / without: median over the quiet pairs, over all pairs, and between the two medians of all phases. */
  readonly lossQuiet: number | undefined;
  readonly lossAll: number | undefined;
  readonly lossOfMedians: number | undefined;
  /** CPU per record with checkpoints over without, minus 1: median over all pairs (load moves it little). */
  readonly cpuAdded: number | undefined;
  readonly verdict: "met" | "MISSED" | "inconclusive";
}

/** The adjacent phases, (without, with) each. */
function pairsOf(r: CheckpointResult): [CheckpointPhase, CheckpointPhase][] {
  const out: [CheckpointPhase, CheckpointPhase][] = [];
  for (let i = 0; i + 1 < r.phases.length; i += 2) {
    const [a, b] = [r.phases[i]!, r.phases[i + 1]!];
    out.push(a.checkpoints ? [b, a] : [a, b]);
  }
  return out;
}

const quiet = ([none, every]: [CheckpointPhase, CheckpointPhase]): boolean =>
  none.otherCpuPercent < QUIET_OTHER_CPU_PERCENT && every.otherCpuPercent < QUIET_OTHER_CPU_PERCENT;
const loss = ([none, every]: [CheckpointPhase, CheckpointPhase]): number =>
  1 - every.recordsPerSecond / none.recordsPerSecond;
const cpuAdded = ([none, every]: [CheckpointPhase, CheckpointPhase]): number =>
  every.cpuUsPerRecord / none.cpuUsPerRecord - 1;
const medianOrUndefined = (values: readonly number[]): number | undefined =>
  values.length === 0 ? undefined : median(values);

export function checkpointVerdict(r: CheckpointResult): CheckpointVerdict {
  const all = pairsOf(r).filter(([none]) => none.recordsPerSecond > 0 && none.cpuUsPerRecord > 0);
  const calm = all.filter(quiet);
  const lossQuiet = medianOrUndefined(calm.map(loss));
  const rates = (checkpoints: boolean): number[] =>
    r.phases.filter((x) => x.checkpoints === checkpoints).map((x) => x.recordsPerSecond);
  const ofMedians = 1 - median(rates(true)) / median(rates(false));
  return {
    pairs: all.length,
    quietPairs: calm.length,
    lossQuiet,
    lossAll: medianOrUndefined(all.map(loss)),
    lossOfMedians: Number.isFinite(ofMedians) ? ofMedians : undefined,
    cpuAdded: medianOrUndefined(all.map(cpuAdded)),
    verdict:
      lossQuiet === undefined || calm.length < MIN_QUIET_PAIRS
        ? "inconclusive"
        : lossQuiet < CHECKPOINT_LOSS_TARGET
          ? "met"
          : "MISSED",
  };
}

const percent = (v: number | undefined): string => (v === undefined ? "—" : `${(v * 100).toFixed(1)} %`);

export function checkpointTable(r: CheckpointResult): string {
  const row = (label: string, phases: readonly CheckpointPhase[]): string[] => {
    const durations = phases.flatMap((x) => x.durationsMs);
    const bytes = phases.flatMap((x) => x.bytes);
    return [
      label,
      String(phases.length),
      ...spread(phases.map((x) => x.recordsPerSecond)),
      median(phases.map((x) => x.cpuUsPerRecord)).toFixed(2),
      median(phases.map((x) => x.otherCpuPercent)).toFixed(0),
      phases.some((x) => x.checkpoints)
        ? `${phases.reduce((n, x) => n + x.completed, 0)} / ${phases.reduce((n, x) => n + x.aborted, 0)}`
        : "—",
      durations.length > 0 ? `${median(durations).toFixed(0)} / ${Math.max(...durations).toFixed(0)}` : "—",
      bytes.length > 0 ? (median(bytes) / 1024).toFixed(1) : "—",
    ];
  };
  const phases = table(
    [
      "phases of one job (keyBy → keyed counter)",
      "phases",
      "median rec/s",
      "min",
      "max",
      "CPU µs/rec",
      "others' CPU %",
      "completed / aborted",
      "duration ms median / max",
      "state KiB",
    ],
    [
      row(
        "no checkpoints",
        r.phases.filter((x) => !x.checkpoints),
      ),
      row(
        "checkpoints every 1 s",
        r.phases.filter((x) => x.checkpoints),
      ),
    ],
  );
  const v = checkpointVerdict(r);
  const summary = table(
    [
      "throughput lost: quiet pairs (median)",
      "all pairs",
      "between the medians",
      "CPU per record added (all pairs)",
      "target",
      "verdict",
    ],
    [
      [
        `${percent(v.lossQuiet)} (${v.quietPairs} of ${v.pairs} pairs)`,
        percent(v.lossAll),
        percent(v.lossOfMedians),
        percent(v.cpuAdded),
        `< ${CHECKPOINT_LOSS_TARGET * 100} % lost`,
        v.verdict,
      ],
    ],
  );
  return `${phases}\n\n${summary}`;
}

export function checkpointDetails(r: CheckpointResult): string {
  const lines = r.phases.map(
    (x, i) =>
      `- phase ${i + 1}, ${x.checkpoints ? "checkpoints every 1 s" : "no checkpoints"}: ${rate(x.recordsPerSecond)} records/s, ` +
      `${x.cpuUsPerRecord.toFixed(2)} µs CPU per record, other processes ${x.otherCpuPercent.toFixed(0)} % of a core` +
      (x.checkpoints
        ? `; ${x.completed} completed (${x.durationsMs.join(", ")} ms), ${x.aborted} aborted`
        : ""),
  );
  const pairs = pairsOf(r);
  if (pairs.length > 0) {
    lines.push(
      `- throughput lost within each pair (* quiet): ${pairs.map((p) => `${percent(loss(p))}${quiet(p) ? "*" : ""}`).join(", ")}`,
    );
    lines.push(
      `- CPU per record added within each pair: ${pairs.map((p) => percent(cpuAdded(p))).join(", ")}`,
    );
  }
  if (r.error !== undefined) lines.push(`- stopped early: ${r.error.slice(0, 1500)}`);
  return lines.join("\n");
}
