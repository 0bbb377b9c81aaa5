// Everything the harness starts (server members, vigil processes) and every temp dir it makes is
// registered here, so that it is cleaned up even when a test forgets `stop()`, fails or is interrupted:
// - `Registration.release()` is the normal path (called by `stop()`);
// - an `exit` hook (and SIGINT/SIGTERM/SIGHUP) SIGKILLs every registered child synchronously;
// - a record file per registration under os.tmpdir()/vigil-ha-tests/ lets the vitest globalSetup reap
//   leftovers of a test process that died without running its hooks (see stale.ts).
import { randomUUID } from "node:crypto";
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testRunId } from "../config/environment.ts";
import { killQuietly, startTimeOf } from "./proc.ts";

export const RECORD_DIR = join(tmpdir(), "vigil-ha-tests");
/** Temp dirs made by the harness start with this; stale cleanup removes nothing else. */
export const TEMP_PREFIX = "vigil-ha-";

export interface RecordedPid {
  readonly pid: number;
  /** /proc start time; a different value means the PID was reused. */
  readonly startTime: string | undefined;
  /** A string the process's command line must contain (a temp dir or script path). */
  readonly marker: string;
}

/** The JSON written to a record file. */
export interface RecordFile {
  readonly owner: number;
  readonly ownerStartTime: string | undefined;
  readonly runId: string | undefined;
  readonly label: string;
  readonly pids: readonly RecordedPid[];
  readonly dirs: readonly string[];
}

const live = new Set<Registration>();
let hooksInstalled = false;

/** One owner of processes and dirs (a cluster, a vigil process); mirrors itself into a record file. */
export class Registration {
  readonly #file: string;
  readonly #pids = new Map<number, RecordedPid>();
  readonly #dirs = new Set<string>();
  #released = false;

  constructor(readonly label: string) {
    installHooks();
    mkdirSync(RECORD_DIR, { recursive: true });
    this.#file = join(RECORD_DIR, `${process.pid}-${randomUUID()}.json`);
    live.add(this);
    this.#write();
  }

  addPid(pid: number, marker: string): void {
    this.#pids.set(pid, { pid, startTime: startTimeOf(pid), marker });
    this.#write();
  }

  /** Call once the process has been reaped (its `exit` event fired). */
  removePid(pid: number): void {
    if (this.#pids.delete(pid)) this.#write();
  }

  addDir(dir: string): void {
    this.#dirs.add(dir);
    this.#write();
  }

  /** Removes the dirs and the record file; the caller has already killed and awaited its processes. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    live.delete(this);
    for (const pid of this.#pids.keys()) killQuietly(pid);
    for (const dir of this.#dirs) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    rmSync(this.#file, { force: true });
  }

  /** Synchronous last resort for the exit hook: the processes are our children, so PIDs are not reused yet. */
  killAllSync(): void {
    for (const pid of this.#pids.keys()) killQuietly(pid);
  }

  #write(): void {
    if (this.#released) return;
    const record: RecordFile = {
      owner: process.pid,
      ownerStartTime: startTimeOf(process.pid),
      runId: testRunId(),
      label: this.label,
      pids: [...this.#pids.values()],
      dirs: [...this.#dirs],
    };
    writeFileSync(this.#file, JSON.stringify(record));
  }
}

function onExit(): void {
  for (const r of live) r.killAllSync();
  for (const r of [...live]) {
    try {
      r.release();
    } catch {
      // Best effort while exiting: the record file stays and globalSetup reaps it later.
    }
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", onExit);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      onExit();
      // Keep the default "die by this signal" behaviour unless someone else (vitest) handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/** Removes a record file written by another (dead) process; used by stale cleanup. */
export function removeRecord(file: string): void {
  try {
    unlinkSync(file);
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
}
