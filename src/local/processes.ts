// vigil CLI child processes (tests, the demo, local clusters): JSON lines on stdout become a typed event log to wait on.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Registration } from "./registry.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const CLI = join(REPO, "src/cli/main.ts");
// By path, so the child finds tsx whatever its working directory is.
const TSX = pathToFileURL(join(REPO, "node_modules/tsx/dist/loader.mjs")).href;
const STDERR_TAIL = 4_000;
const STDOUT_TAIL = 256 * 1024;

export type VigilEvent = Record<string, unknown>;
/** `index` is the event's position in `events`, to match only events after a known point. */
export type EventPredicate = (e: VigilEvent, index: number) => boolean;
export type ExitStatus = { code: number | null; signal: NodeJS.Signals | null };

export interface VigilProcess {
  readonly pid: number;
  /** every JSON line printed on stdout, parsed, in order (other lines are ignored) */
  readonly events: readonly VigilEvent[];
  /** everything on stderr so far */
  readonly stderr: () => string;
  /** stdout so far as text (its last 256 KiB), for commands whose output is prose */
  readonly stdout: () => string;
  /**
   * First matching event, past or future; rejects with recent stderr on timeout or when the process exits
   * first. The predicate also gets the event's index in `events` (to match only events after a point).
   */
  waitForEvent(predicate: EventPredicate, timeoutMs?: number): Promise<VigilEvent>;
  /** default SIGKILL; a no-op once the process has exited */
  kill(signal?: NodeJS.Signals): void;
  /** SIGSTOP */
  pause(): void;
  /** SIGCONT */
  resume(): void;
  /** resolves (never rejects) once the process has exited */
  exited(): Promise<ExitStatus>;
}

export interface SpawnOptions {
  /** Environment of the child (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** Entry file instead of src/cli/main.ts (the harness's own tests use fixtures). */
  readonly script?: string;
  /** Working directory of the child (default: the repository root). */
  readonly cwd?: string;
}

type Waiter = { readonly predicate: EventPredicate; readonly settle: (e: VigilEvent) => void };

export function spawnVigil(args: readonly string[], options: SpawnOptions = {}): VigilProcess {
  const script = options.script ?? CLI;
  const child = spawn(process.execPath, ["--import", TSX, script, ...args], {
    cwd: options.cwd ?? REPO,
    ...(options.env && { env: options.env }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Spawn failures and failed signals arrive as `error` events, which must not crash the test process.
  child.on("error", () => {});
  if (child.pid === undefined) throw new Error(`could not spawn ${process.execPath} ${script}`);
  return new ChildVigil(child, child.pid, script);
}

class ChildVigil implements VigilProcess {
  readonly events: VigilEvent[] = [];
  readonly #registration: Registration;
  readonly #waiters = new Set<Waiter>();
  readonly #exit: Promise<ExitStatus>;
  #status: ExitStatus | undefined;
  #stderr = "";
  #stdout = "";
  #partial = "";

  constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
    script: string,
  ) {
    this.#registration = new Registration(`vigil ${script}`);
    this.#registration.addPid(pid, script);
    child.stdout!.setEncoding("utf8");
    child.stderr!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => this.#onStdout(chunk));
    child.stderr!.on("data", (chunk: string) => {
      this.#stderr += chunk;
    });
    // `close` (not `exit`) so that every line the process wrote has been parsed before waiters fail.
    this.#exit = new Promise<ExitStatus>((resolve) => {
      child.once("close", (code: number | null, signal: NodeJS.Signals | null) => {
        this.#onStdout("\n");
        this.#status = { code, signal };
        this.#registration.removePid(pid);
        this.#registration.release();
        resolve(this.#status);
      });
    });
  }

  readonly stderr = (): string => this.#stderr;
  readonly stdout = (): string => this.#stdout;

  waitForEvent(predicate: EventPredicate, timeoutMs = 10_000): Promise<VigilEvent> {
    const past = this.events.find(predicate);
    if (past) return Promise.resolve(past);
    if (this.#status) return Promise.reject(this.#failure("exited before a matching event"));
    return new Promise<VigilEvent>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      const waiter: Waiter = {
        predicate,
        settle: (e) => {
          done();
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        done();
        reject(this.#failure(`no matching event within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.add(waiter);
      this.#exit.then(
        () => {
          if (!this.#waiters.has(waiter)) return;
          done();
          reject(this.#failure("exited before a matching event"));
        },
        () => {}, // #exit never rejects.
      );
    });
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    this.#signal(signal);
  }

  pause(): void {
    this.#signal("SIGSTOP");
  }

  resume(): void {
    this.#signal("SIGCONT");
  }

  exited(): Promise<ExitStatus> {
    return this.#exit;
  }

  #signal(signal: NodeJS.Signals): void {
    // After exit the PID may belong to someone else: never signal it.
    if (this.#status || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(signal);
  }

  #onStdout(chunk: string): void {
    this.#stdout = (this.#stdout + chunk).slice(-STDOUT_TAIL);
    const lines = (this.#partial + chunk).split("\n");
    this.#partial = lines.pop() ?? "";
    for (const line of lines) {
      const event = parseEvent(line);
      if (!event) continue;
      const index = this.events.push(event) - 1;
      for (const w of [...this.#waiters]) if (w.predicate(event, index)) w.settle(event);
    }
  }

  #failure(what: string): Error {
    const status = this.#status ? ` (exit code ${this.#status.code}, signal ${this.#status.signal})` : "";
    const tail = this.#stderr.slice(-STDERR_TAIL);
    return new Error(
      `vigil pid ${this.pid} ${what}${status}; ${this.events.length} events, last: ` +
        `${JSON.stringify(this.events.at(-1) ?? null)}\n--- stderr (tail)\n${tail}`,
    );
  }
}

function parseEvent(line: string): VigilEvent | undefined {
  const text = line.trim();
  if (!text.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as VigilEvent)
      : undefined;
  } catch {
    return undefined; // A log line that merely starts with "{".
  }
}
