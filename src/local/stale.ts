// Reaps servers and vigil processes left behind by test processes that died without cleaning up
// (SIGKILLed worker, crash, interrupted run). Safe to run while other test runs are live: a record is
// only touched when its owner is gone (or belongs to the run now tearing down), and a recorded PID is
// only killed while /proc still shows the same process.
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { isSameProcess, killQuietly } from "./proc.ts";
import { RECORD_DIR, type RecordFile, removeRecord, TEMP_PREFIX } from "./registry.ts";

export interface ReapOptions {
  /** Also reap records of this run even if their owner still lives (the run is over). */
  readonly runId?: string | undefined;
}

/** Returns how many records were reaped. */
export async function reapStale(options: ReapOptions = {}): Promise<number> {
  let names: string[];
  try {
    names = readdirSync(RECORD_DIR).filter((n) => n.endsWith(".json"));
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw e;
  }
  let reaped = 0;
  for (const name of names) {
    const file = join(RECORD_DIR, name);
    const record = readRecord(file);
    if (record === undefined) continue;
    const ownerAlive = isSameProcess(record.owner, record.ownerStartTime, undefined);
    const sameRun = options.runId !== undefined && record.runId === options.runId;
    if (ownerAlive && !sameRun) continue;
    const victims = record.pids.filter((p) => isSameProcess(p.pid, p.startTime, p.marker));
    for (const p of victims) killQuietly(p.pid);
    await waitGone(victims);
    for (const dir of record.dirs) if (isHarnessDir(dir)) rmSync(dir, { recursive: true, force: true });
    removeRecord(file);
    reaped++;
  }
  return reaped;
}

function readRecord(file: string): RecordFile | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as RecordFile;
  } catch {
    // Vanished (another reaper) or half-written by a live owner: leave it for the next pass.
    return undefined;
  }
}

/** Never delete anything but a harness temp dir directly under the temp root. */
function isHarnessDir(dir: string): boolean {
  const abs = resolve(dir);
  return dirname(abs) === resolve(tmpdir()) && basename(abs).startsWith(TEMP_PREFIX);
}

/** SIGKILLed orphans are reaped by init almost at once; wait so their dirs are not written to afterwards. */
async function waitGone(victims: readonly { pid: number; startTime: string | undefined; marker: string }[]) {
  const until = Date.now() + 5_000;
  while (victims.some((p) => isSameProcess(p.pid, p.startTime, p.marker)) && Date.now() < until) {
    await new Promise<void>((r) => setTimeout(r, 20));
  }
}
