// What a chaos run leaves in its output directory, so that a failing run can be read and replayed: the history
// as JSON lines, written while the run goes (a run that dies midway still shows what it did); then, once it
// is checked, every process's events, the verdict with everything it was based on and the seed, and the HTML
// report with the command that reproduces the run.
import { createWriteStream } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type FailoverRow, failoverTable } from "./failover-stats.ts";
import type { History } from "./history.ts";
import { renderReport } from "./report-html.ts";
import type { CheckBounds, ClusterEvent, FinalState, Validity, Verdict } from "./types.ts";

/** The clients' operations by outcome. */
export interface OpCounts {
  readonly ok: number;
  readonly fail: number;
  readonly info: number;
}

/** The checked outcome of a run: verdict.json holds it, with the seed. */
export interface RunVerdict {
  readonly overall: Validity;
  readonly verdicts: readonly Verdict[];
  readonly failover: readonly FailoverRow[];
  readonly faultsInjected: number;
  readonly ops: OpCounts;
  readonly final: FinalState;
  readonly bounds: CheckBounds;
}

/** What the run was: named in the report and the verdict. */
export interface RunDescription {
  /** The output directory; it exists. */
  readonly out: string;
  readonly workload: string;
  readonly backend: "etcd" | "zookeeper";
  readonly nemesis: readonly string[];
  readonly seed: string;
  /** The command line that reproduces the run. */
  readonly command: string;
}

/** Appends every op `history` records from now on to out/history.jsonl; the returned close ends the file. */
export function recordHistory(history: History, out: string): () => Promise<void> {
  const file = createWriteStream(join(out, "history.jsonl"));
  history.onOp((op) => file.write(JSON.stringify(op) + "\n"));
  return () => new Promise<void>((resolve) => file.end(resolve));
}

/** Writes events.jsonl, verdict.json and report.html; resolves with the report's path. */
export async function writeArtefacts(
  run: RunDescription,
  history: History,
  events: readonly ClusterEvent[],
  verdict: RunVerdict,
): Promise<string> {
  const { overall, verdicts, failover, faultsInjected, ops, final, bounds } = verdict;
  await writeFile(join(run.out, "events.jsonl"), events.map((e) => JSON.stringify(e) + "\n").join(""));
  await writeFile(
    join(run.out, "verdict.json"),
    JSON.stringify(
      { overall, verdicts, failover, faultsInjected, ops, final, bounds, seed: run.seed },
      jsonBigint,
      2,
    ),
  );
  const reportPath = join(run.out, "report.html");
  await writeFile(
    reportPath,
    renderReport({
      title: `vigil chaos: ${run.workload} on ${run.backend}`,
      workload: run.workload,
      backend: run.backend,
      nemesis: run.nemesis,
      seed: run.seed,
      command: run.command,
      verdicts,
      overall,
      failover: failoverTable(failover),
      history: history.ops(),
      events,
      startedAt: history.startedAt,
      endedAt: final.at,
    }),
  );
  return reportPath;
}

function jsonBigint(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
