// Two worker TaskManager processes (streaming-worker.ts) on a shared temp storage dir, driven over IPC: this
// process plays the JobManager (deploys tasks, relays checkpoint commands, receives acks) and reads their
// counters and memory. Processes rather than two servers in one process: each TaskManager then has its own
// event loop and heap, as in a cluster, and the exchange really crosses a process boundary (loopback TCP).
import { type ChildProcess, fork } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { CheckpointGateway, CheckpointTask } from "../src/checkpoint/gateway.ts";
import type { OperatorSubtaskState, TaskDescriptor } from "../src/generated/records.ts";
import { REPO_ROOT } from "./contestants.ts";
import type { Counter, WorkerMessage, WorkerOp, WorkerOps, WorkerRequest } from "./streaming-protocol.ts";

const START_TIMEOUT_MS = 30_000;
const CALL_TIMEOUT_MS = 30_000;
const live = new Set<Worker>();
process.on("exit", () => killAllWorkers());

/** SIGKILLs every worker still running. Synchronous, so it can run from an exit handler. */
export function killAllWorkers(): void {
  for (const w of live) w.kill();
}

export interface WorkerListener {
  ack?(executionId: string, checkpointId: bigint, states: OperatorSubtaskState[]): void;
  decline?(executionId: string, checkpointId: bigint, reason: string): void;
}

export class Worker {
  /** Task failures reported by the worker (a cancel by the benchmark is not one). */
  readonly failures: string[] = [];
  /**
   * While the benchmark cancels a job, a task may fail first because its peer on the other worker was
   * cancelled (its producer or consumer is gone): those are consequences of the cancel, not failures.
   */
  cancelling = false;
  listener: WorkerListener = {};
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private stderrTail = "";
  private exitInfo: string | undefined;
  private readonly exited: Promise<void>;
  address = "";

  private constructor(
    readonly label: string,
    private readonly proc: ChildProcess,
  ) {
    live.add(this);
    proc.stderr?.setEncoding("utf8");
    proc.stderr?.on("data", (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-2_000);
    });
    proc.on("message", (m: WorkerMessage) => this.onMessage(m));
    this.exited = new Promise((resolve) => {
      proc.on("exit", (code, signal) => {
        live.delete(this);
        this.exitInfo = signal ? `killed by ${signal}` : `exited with code ${code}`;
        for (const p of this.pending.values()) p.reject(this.gone("a reply"));
        this.pending.clear();
        resolve();
      });
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  /** Starts `node --import tsx bench/streaming-worker.ts` and waits until its RPC server listens. */
  static async start(label: string, storageUri: string): Promise<Worker> {
    const proc = fork(join(REPO_ROOT, "bench", "streaming-worker.ts"), [storageUri], {
      cwd: REPO_ROOT,
      execArgv: ["--import", "tsx"],
      serialization: "advanced",
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    const worker = new Worker(label, proc);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(worker.gone("ready within 30 s")), START_TIMEOUT_MS);
      const onReady = (m: WorkerMessage): void => {
        if (m.kind !== "ready") return;
        clearTimeout(timer);
        proc.off("message", onReady);
        worker.address = m.address;
        resolve();
      };
      proc.on("message", onReady);
      void worker.exited.then(() => {
        clearTimeout(timer);
        reject(worker.gone("ready"));
      });
    });
    return worker;
  }

  call<K extends WorkerOp>(op: K, args: WorkerOps[K]["args"]): Promise<WorkerOps[K]["result"]> {
    if (this.exitInfo !== undefined) return Promise.reject(this.gone(`a reply to ${op}`));
    const id = this.nextId++;
    const request: WorkerRequest<K> = { id, op, args };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.label} (pid ${this.pid}): no reply to ${op} within ${CALL_TIMEOUT_MS} ms`));
      }, CALL_TIMEOUT_MS);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as WorkerOps[K]["result"]);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.proc.send(request);
    });
  }

  /** Closes the IPC channel (the worker shuts down by itself), SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (this.exitInfo !== undefined) return;
    if (this.proc.connected) this.proc.disconnect();
    const timer = setTimeout(() => this.kill(), 5_000);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.exitInfo === undefined) this.proc.kill("SIGKILL");
  }

  private onMessage(m: WorkerMessage): void {
    switch (m.kind) {
      case "reply":
        this.pending.get(m.id)?.resolve(m.value);
        this.pending.delete(m.id);
        break;
      case "failed":
        this.pending.get(m.id)?.reject(new Error(`${this.label}: ${m.error}`));
        this.pending.delete(m.id);
        break;
      case "ack":
        this.listener.ack?.(m.executionId, m.checkpointId, m.states);
        break;
      case "decline":
        this.listener.decline?.(m.executionId, m.checkpointId, m.reason);
        break;
      case "task-ended":
        if (m.error !== undefined && !this.cancelling) this.failures.push(`${m.executionId}: ${m.error}`);
        break;
      case "ready":
        break;
    }
  }

  private gone(what: string): Error {
    const tail = this.stderrTail.trim().split("\n").slice(-5).join(" | ");
    return new Error(
      `${this.label} (pid ${this.pid}) ${this.exitInfo ?? "did not answer"} before ${what}${tail ? `; stderr: ${tail}` : ""}`,
    );
  }
}

/** Two worker TaskManagers: `producer` runs the sources, `consumer` the tasks behind the exchange. */
export class TwoTaskManagers {
  private constructor(
    readonly producer: Worker,
    readonly consumer: Worker,
    readonly storageUri: string,
    private readonly dir: string,
  ) {}

  static async start(): Promise<TwoTaskManagers> {
    const dir = await mkdtemp(join(tmpdir(), "vigil-bench-streaming-"));
    const storageUri = pathToFileURL(dir).href;
    const started = await Promise.allSettled([
      Worker.start("taskmanager A", storageUri),
      Worker.start("taskmanager B", storageUri),
    ]);
    const [a, b] = started.map((s) => (s.status === "fulfilled" ? s.value : undefined));
    if (a === undefined || b === undefined) {
      await Promise.all([a?.stop(), b?.stop()]);
      await rm(dir, { recursive: true, force: true });
      const failed = started.find((s) => s.status === "rejected");
      throw failed?.status === "rejected" ? failed.reason : new Error("a worker did not start");
    }
    return new TwoTaskManagers(a, b, storageUri, dir);
  }

  /** Deploys the consumers first: their partition requests wait for the producers, as in a real deployment. */
  async deploy(producers: TaskDescriptor[], consumers: TaskDescriptor[]): Promise<void> {
    await this.consumer.call("deploy", { tasks: consumers });
    await this.producer.call("deploy", { tasks: producers });
  }

  async cancel(): Promise<void> {
    this.producer.cancelling = true;
    this.consumer.cancelling = true;
    try {
      await Promise.all([this.producer.call("cancel", {}), this.consumer.call("cancel", {})]);
    } finally {
      this.producer.cancelling = false;
      this.consumer.cancelling = false;
    }
  }

  /** Every task failure either worker reported so far. */
  get failures(): string[] {
    return [...this.producer.failures, ...this.consumer.failures];
  }

  async stop(): Promise<void> {
    await Promise.all([this.producer.stop(), this.consumer.stop()]);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Records per second between two readings of the same counters (summed over the keys with `prefix`). */
export function rateBetween(
  before: Record<string, Counter>,
  after: Record<string, Counter>,
  prefix: string,
): number {
  let rate = 0;
  for (const [key, b] of Object.entries(after)) {
    const a = before[key];
    if (!key.startsWith(prefix) || a === undefined || b.atMs <= a.atMs) continue;
    rate += ((b.total - a.total) * 1000) / (b.atMs - a.atMs);
  }
  return rate;
}

export function totalOf(counters: Record<string, Counter>, prefix: string): number {
  return Object.entries(counters).reduce((n, [k, c]) => (k.startsWith(prefix) ? n + c.total : n), 0);
}

/** The checkpoint coordinator's view of deployed tasks. */
export function checkpointTasks(tasks: readonly TaskDescriptor[]): CheckpointTask[] {
  return tasks.map((t) => ({
    executionId: t.executionId,
    subtask: t.subtask,
    parallelism: t.parallelism,
    operatorUids: t.chain.map((v) => v.id),
    isSource: t.inputs.length === 0,
    upstream: t.inputs.flatMap((g) => g.producers.map((p) => p.executionId)),
  }));
}

/** The JobManager's TaskExecutor calls, as IPC requests to the worker that runs the task. */
export class IpcCheckpointGateway implements CheckpointGateway {
  constructor(private readonly workerOf: (executionId: string) => Worker) {}

  trigger(task: CheckpointTask, checkpointId: bigint, timestampMs: number): Promise<void> {
    return this.send("trigger", task, checkpointId, timestampMs);
  }

  notifyComplete(task: CheckpointTask, checkpointId: bigint): Promise<void> {
    return this.send("notify", task, checkpointId, 0);
  }

  abort(task: CheckpointTask, checkpointId: bigint): Promise<void> {
    return this.send("abort", task, checkpointId, 0);
  }

  private async send(
    command: "trigger" | "notify" | "abort",
    task: CheckpointTask,
    checkpointId: bigint,
    timestampMs: number,
  ): Promise<void> {
    await this.workerOf(task.executionId).call("checkpoint", {
      command,
      executionId: task.executionId,
      checkpointId,
      timestampMs,
    });
  }
}
