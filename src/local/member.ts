// One server process of a cluster: started with its output appended to log files, killed and awaited,
// frozen and thawed. Knows nothing about etcd or ZooKeeper.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { stateOf } from "./proc.ts";
import type { Registration } from "./registry.ts";

export interface MemberSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** Receives the process's stdout and stderr (appended across restarts). */
  readonly outFile: string;
  /** Other logs worth showing when the member fails (e.g. ZooKeeper's log4j file). */
  readonly extraLogs?: readonly string[];
  /** A string its command line contains, to recognise the process in stale cleanup. */
  readonly marker: string;
}

export type ExitInfo = { code: number | null; signal: NodeJS.Signals | null };

export class Member {
  #child: ChildProcess | undefined;
  #exit: Promise<ExitInfo> | undefined;
  /** Set when the process exited and nobody asked it to (`kill`). */
  #unexpectedExit: ExitInfo | undefined;
  #spawnError: Error | undefined;

  constructor(
    readonly spec: MemberSpec,
    private readonly registration: Registration,
  ) {}

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** The exit of a process this harness did not kill, since the last start. */
  get unexpectedExit(): ExitInfo | undefined {
    return this.#unexpectedExit;
  }

  start(): void {
    if (this.#child) throw new Error(`member is already running (pid ${this.#child.pid})`);
    this.#unexpectedExit = undefined;
    // A file, not a pipe: the server must not block or die of SIGPIPE when the test process goes away.
    const fd = openSync(this.spec.outFile, "a");
    let child: ChildProcess;
    try {
      child = spawn(this.spec.command, [...this.spec.args], {
        cwd: this.spec.cwd,
        stdio: ["ignore", fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) {
      // The reason (ENOENT, EACCES) arrives as an `error` event that would otherwise crash the process.
      child.once("error", () => {});
      throw new Error(`could not spawn ${this.spec.command} (missing or not executable?)`);
    }
    this.registration.addPid(pid, this.spec.marker);
    this.#child = child;
    this.#exit = new Promise<ExitInfo>((resolve) => {
      child.once("exit", (code, signal) => {
        this.registration.removePid(pid);
        if (this.#child === child) {
          this.#child = undefined;
          this.#unexpectedExit = { code, signal };
        }
        resolve({ code, signal });
      });
    });
    // Any later `error` (e.g. a failed kill) must not crash the test process; a lost child counts as exited.
    child.once("error", (e: Error) => {
      if (this.#child !== child) return;
      this.#child = undefined;
      this.registration.removePid(pid);
      this.#unexpectedExit = { code: null, signal: null };
      this.#spawnError = e;
    });
  }

  /** SIGKILL and wait until the process has exited; a no-op when it is not running. */
  async kill(): Promise<void> {
    const child = this.#child;
    const exit = this.#exit;
    if (!child || !exit) return;
    this.#child = undefined;
    child.kill("SIGKILL");
    await exit;
  }

  /** Returns once the kernel shows the process stopped, so a test's next step already sees it frozen. */
  pause(): void {
    this.#signal("SIGSTOP");
    this.#awaitState((state) => state === "T");
  }

  resume(): void {
    this.#signal("SIGCONT");
    this.#awaitState((state) => state !== "T");
  }

  /** The last lines of every log of this member, for error messages. */
  logTail(lines = 30): string {
    const parts: string[] = [];
    if (this.#spawnError) parts.push(`spawn error: ${this.#spawnError.message}`);
    for (const file of [this.spec.outFile, ...(this.spec.extraLogs ?? [])]) {
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch {
        continue; // Not written yet.
      }
      const tail = text.trimEnd().split("\n").slice(-lines).join("\n");
      if (tail) parts.push(`--- ${file}\n${tail}`);
    }
    return parts.join("\n");
  }

  /**
   * A signal reaches every thread of a JVM or Go runtime a little later than kill() returns. pause() and
   * resume() are synchronous in the API, so wait here, briefly and synchronously, for the state to show.
   */
  #awaitState(ok: (state: string | undefined) => boolean): void {
    const pid = this.#child?.pid;
    const until = Date.now() + 500;
    const nap = new Int32Array(new SharedArrayBuffer(4));
    while (pid !== undefined && !ok(stateOf(pid)) && Date.now() < until) Atomics.wait(nap, 0, 0, 1);
  }

  #signal(signal: NodeJS.Signals): void {
    const child = this.#child;
    if (!child) throw new Error(`cannot ${signal}: member is not running`);
    child.kill(signal);
  }
}
