// Contender processes whose stdout lines are timestamped in this (the parent) process on a monotonic clock,
// the moment their bytes arrive. Every contestant is measured the same way: kill time and grant time are
// both read here, so child start-up and clock differences never enter a measurement.
import { type ChildProcess, spawn } from "node:child_process";
import { performance } from "node:perf_hooks";

export interface Line {
  /** performance.now() in the parent when the chunk holding this line arrived. */
  readonly at: number;
  readonly text: string;
  /** The line parsed as a JSON object, when it is one. */
  readonly json: Record<string, unknown> | undefined;
}

export type LinePredicate = (line: Line) => boolean;

const live = new Set<Child>();

/** Every child started and not yet exited (for cleanup on error and Ctrl-C). */
export function liveChildren(): readonly Child[] {
  return [...live];
}

/** SIGKILLs every child still alive. Synchronous, so it can run from an exit handler. */
export function killAllChildren(): void {
  for (const c of live) c.kill("SIGKILL");
}

export class Child {
  readonly lines: Line[] = [];
  readonly pid: number;
  private readonly proc: ChildProcess;
  private partial = "";
  private stderrTail = "";
  private exitInfo: string | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly exitPromise: Promise<string>;

  constructor(
    readonly label: string,
    command: string,
    args: readonly string[],
    options: { readonly cwd?: string; readonly env?: NodeJS.ProcessEnv } = {},
  ) {
    this.proc = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      cwd: options.cwd,
      env: options.env ?? process.env,
    });
    if (this.proc.pid === undefined) throw new Error(`${label}: could not start ${command}`);
    this.pid = this.proc.pid;
    live.add(this);
    this.proc.stdout!.setEncoding("utf8");
    this.proc.stdout!.on("data", (chunk: string) => this.onData(performance.now(), chunk));
    this.proc.stderr!.setEncoding("utf8");
    this.proc.stderr!.on("data", (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-2000);
    });
    this.exitPromise = new Promise((resolve) => {
      this.proc.on("exit", (code, signal) => {
        live.delete(this);
        this.exitInfo = signal ? `killed by ${signal}` : `exited with code ${code}`;
        this.notify();
        resolve(this.exitInfo);
      });
      this.proc.on("error", (e) => {
        live.delete(this);
        this.exitInfo = `failed: ${e.message}`;
        this.notify();
        resolve(this.exitInfo);
      });
    });
  }

  /** Resolves with a description of how the child ended. */
  exited(): Promise<string> {
    return this.exitPromise;
  }

  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  /** Sends `signal`; returns performance.now() taken just before sending. No-op once exited. */
  kill(signal: NodeJS.Signals): number {
    const at = performance.now();
    if (this.alive) this.proc.kill(signal);
    return at;
  }

  /** The first line from index `from` on that satisfies `pred`, if one has arrived. */
  find(pred: LinePredicate, from = 0): Line | undefined {
    for (let i = from; i < this.lines.length; i++) {
      const line = this.lines[i]!;
      if (pred(line)) return line;
    }
    return undefined;
  }

  /** Waits for a line (from index `from`) satisfying `pred`; rejects on timeout or when the child exits. */
  waitForLine(pred: LinePredicate, timeoutMs: number, what: string, from = 0): Promise<Line> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = this.find(pred, from);
        if (hit) {
          done();
          resolve(hit);
          return true;
        }
        if (!this.alive) {
          done();
          reject(new Error(`${this.label} (pid ${this.pid}) ${this.exitInfo} before ${what}${this.tail()}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.label} (pid ${this.pid}): no ${what} within ${timeoutMs} ms${this.tail()}`));
      }, timeoutMs);
      const waiter = (): void => void check();
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      if (!check()) this.waiters.add(waiter);
    });
  }

  private tail(): string {
    const t = this.stderrTail.trim();
    return t ? `; stderr: ${t.split("\n").slice(-5).join(" | ")}` : "";
  }

  private onData(at: number, chunk: string): void {
    const parts = (this.partial + chunk).split("\n");
    this.partial = parts.pop() ?? "";
    for (const raw of parts) {
      const text = raw.trim();
      if (text === "") continue;
      this.lines.push({ at, text, json: parseObject(text) });
    }
    this.notify();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

function parseObject(text: string): Record<string, unknown> | undefined {
  if (!text.startsWith("{")) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
