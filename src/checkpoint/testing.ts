// Test doubles for the checkpoint coordinator's unit tests (no test framework imports here): a gateway that
// records commands and lets tests act as the tasks, a blob store and a state-handle store that log their
// writes in one shared order, a leader session on the memory backend, and a fixture wiring them together.
import { stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { monotonicNow } from "../common/clock.ts";
import { RecordedEvents } from "../common/events.ts";
import { silentLogger } from "../common/logger.ts";
import type { BlobRef, OperatorSubtaskState } from "../generated/records.ts";
import { LeaderElectionService } from "../ha/leader-election-service.ts";
import type { LeaderSession } from "../ha/leader-session.ts";
import { type MemoryCoordinator, MemoryHaBackend } from "../ha/memory/index.ts";
import type { StateHandleStore, StoredEntry, StoreWatch } from "../ha/state-handle-store.ts";
import { CheckpointIdCounter } from "../ha/stores/checkpoint-id-counter.ts";
import { CompletedCheckpointStore } from "../ha/stores/completed-checkpoint-store.ts";
import { RecordingContender, waitUntil } from "../ha/testing.ts";
import { FileBlobStore } from "../storage/blob-store.ts";
import { type CheckpointConfig, DEFAULT_CHECKPOINT_CONFIG } from "./config.ts";
import { CheckpointCoordinator } from "./coordinator.ts";
import type { CheckpointGateway, CheckpointTask } from "./gateway.ts";

/** A source chain (two operators) feeding a sink of parallelism 2. */
export const TASKS: readonly CheckpointTask[] = [
  { executionId: "src-0", subtask: 0, parallelism: 1, operatorUids: ["source", "map"], isSource: true },
  { executionId: "sink-0", subtask: 0, parallelism: 2, operatorUids: ["sink"], isSource: false },
  { executionId: "sink-1", subtask: 1, parallelism: 2, operatorUids: ["sink"], isSource: false },
];

export interface GatewayCall {
  readonly kind: "trigger" | "notify" | "abort";
  readonly executionId: string;
  readonly checkpointId: bigint;
  readonly savepoint?: boolean;
  /** Set (true) only on a stop-with-savepoint's triggers. */
  readonly stopSources?: boolean;
  readonly reason?: string;
}

export class FakeGateway implements CheckpointGateway {
  readonly calls: GatewayCall[] = [];
  /** Runs inside trigger(); a rejection fails the trigger. Tests acknowledge from here. */
  onTrigger: (task: CheckpointTask, checkpointId: bigint, savepoint: boolean) => void | Promise<void> =
    () => {};
  /** When set, notifyComplete rejects with it. */
  notifyError: Error | undefined;
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly log: string[]) {}

  async trigger(
    task: CheckpointTask,
    checkpointId: bigint,
    _ts: number,
    savepoint: boolean,
    stopSources: boolean,
  ): Promise<void> {
    this.calls.push({
      kind: "trigger",
      executionId: task.executionId,
      checkpointId,
      savepoint,
      ...(stopSources && { stopSources }),
    });
    this.log.push(`trigger:${task.executionId}:${checkpointId}`);
    const work = Promise.resolve(this.onTrigger(task, checkpointId, savepoint));
    this.running.add(work);
    try {
      await work;
    } finally {
      this.running.delete(work);
    }
  }

  /** Resolves once no onTrigger (a fake task's snapshot) is running. */
  async drained(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled(this.running);
  }

  async notifyComplete(task: CheckpointTask, checkpointId: bigint): Promise<void> {
    this.calls.push({ kind: "notify", executionId: task.executionId, checkpointId });
    this.log.push(`notify:${task.executionId}:${checkpointId}`);
    if (this.notifyError) throw this.notifyError;
  }

  async abort(task: CheckpointTask, checkpointId: bigint, reason: string): Promise<void> {
    this.calls.push({ kind: "abort", executionId: task.executionId, checkpointId, reason });
    this.log.push(`abort:${task.executionId}:${checkpointId}`);
  }

  of(kind: GatewayCall["kind"], checkpointId?: bigint): GatewayCall[] {
    return this.calls.filter(
      (c) => c.kind === kind && (checkpointId === undefined || c.checkpointId === checkpointId),
    );
  }
}

/** A FileBlobStore that logs `put:<kind>` and `delete:<file name>`. */
export class RecordingBlobStore extends FileBlobStore {
  constructor(
    storageUri: string,
    private readonly log: string[],
  ) {
    super(storageUri);
  }

  override async put(kind: string, bytes: Uint8Array): Promise<BlobRef> {
    const ref = await super.put(kind, bytes);
    this.log.push(`put:${kind}`);
    return ref;
  }

  override async delete(ref: BlobRef): Promise<boolean> {
    const existed = await super.delete(ref);
    if (existed) this.log.push(`delete:${basename(fileURLToPath(ref.uri))}`);
    return existed;
  }
}

/** True when the blob's file exists. */
export async function exists(ref: BlobRef): Promise<boolean> {
  return stat(fileURLToPath(ref.uri)).then(
    () => true,
    () => false,
  );
}

type WriteOp = "create" | "remove";

/** A StateHandleStore that logs `create:<key>` / `remove:<key>` once done, and can fail or hold writes. */
export class RecordingStore implements StateHandleStore {
  /** Returns an error to fail the write with (without passing it on), or undefined. */
  failWrite: (op: WriteOp, key: string) => Error | undefined = () => undefined;
  private held: { op: WriteOp; arrived(): void; released: Promise<void> } | undefined;

  constructor(
    private readonly inner: StateHandleStore,
    private readonly log: string[],
  ) {}

  get maxValueBytes(): number {
    return this.inner.maxValueBytes;
  }

  /** Holds the next write of kind `op` before it reaches the backend; `reached` resolves when it arrives. */
  hold(op: WriteOp): { reached: Promise<void>; release(): void } {
    let arrived = (): void => {};
    const reached = new Promise<void>((r) => {
      arrived = r;
    });
    let release = (): void => {};
    const released = new Promise<void>((r) => {
      release = r;
    });
    this.held = { op, arrived, released };
    return { reached, release };
  }

  get(key: string): Promise<StoredEntry | undefined> {
    return this.inner.get(key);
  }

  list(dir: string): Promise<StoredEntry[]> {
    return this.inner.list(dir);
  }

  create(key: string, value: Uint8Array, fence: LeaderSession): Promise<bigint> {
    return this.write("create", key, () => this.inner.create(key, value, fence));
  }

  replace(key: string, value: Uint8Array, expectedVersion: bigint, fence: LeaderSession): Promise<bigint> {
    return this.inner.replace(key, value, expectedVersion, fence);
  }

  remove(key: string, fence: LeaderSession, expectedVersion?: bigint): Promise<boolean> {
    return this.write("remove", key, () => this.inner.remove(key, fence, expectedVersion));
  }

  watch(dir: string, onChange: Parameters<StateHandleStore["watch"]>[1]): Promise<StoreWatch> {
    return this.inner.watch(dir, onChange);
  }

  private async write<T>(op: WriteOp, key: string, call: () => Promise<T>): Promise<T> {
    const counter = key.endsWith("checkpoint-counter");
    if (!counter && this.held?.op === op) {
      const h = this.held;
      this.held = undefined;
      h.arrived();
      await h.released;
    }
    const error = counter ? undefined : this.failWrite(op, key);
    if (error) throw error;
    const result = await call();
    if (!counter) this.log.push(`${op}:${key}`);
    return result;
  }
}

export interface TestLeader {
  readonly backend: MemoryHaBackend;
  readonly session: LeaderSession;
  /** Resigns (the campaign key goes) but keeps the backend client open, as a deposed process would. */
  resign(): Promise<void>;
  /** Resigns and closes the backend client. */
  close(): Promise<void>;
}

/** One contender's leadership on `memory`. */
export async function leaderOn(memory: MemoryCoordinator, name: string): Promise<TestLeader> {
  const backend = new MemoryHaBackend(memory, { clusterId: "test", ttlMs: 1_000, safetyMarginMs: 30 });
  const service = new LeaderElectionService(backend.createElectionDriver("jobmanager"), name, silentLogger);
  const contender = new RecordingContender(service, name, `${name}:1`);
  await service.start(contender);
  await waitUntil(() => contender.leading, 2_000, `${name} to lead`);
  return {
    backend,
    session: contender.session!,
    resign: () => service.close(),
    close: async () => {
      await service.close();
      await backend.close();
    },
  };
}

/** A session that ignores its own end, like a process whose zombie guard failed: only fencing stops it. */
export function zombie(session: LeaderSession): LeaderSession {
  return {
    epoch: session.epoch,
    id: session.id,
    electionKey: session.electionKey,
    signal: new AbortController().signal,
    isValid: () => true,
    assertLeader: () => {},
  };
}

export interface Fixture {
  readonly jobId: string;
  /** Writes in order: put:…, create:…, remove:…, delete:…, trigger:…, notify:…, abort:…. */
  readonly log: string[];
  readonly events: RecordedEvents;
  /** When each event happened (monotonic ms), in event order. */
  readonly times: number[];
  readonly gateway: FakeGateway;
  readonly blobs: RecordingBlobStore;
  readonly handles: RecordingStore;
  readonly store: CompletedCheckpointStore;
  readonly counter: CheckpointIdCounter;
  readonly coordinator: CheckpointCoordinator;
  /** Reasons passed to onFailureThreshold. */
  readonly thresholds: string[];
  /** What tasks() returns. */
  tasks: readonly CheckpointTask[];
  /** "savepoints" in the storage directory. */
  readonly savepointDir: string;
}

export function fixture(options: {
  readonly session: LeaderSession;
  readonly handles: StateHandleStore;
  readonly storageUri: string;
  readonly config?: Partial<CheckpointConfig>;
  readonly jobId?: string;
}): Fixture {
  const jobId = options.jobId ?? "j1";
  const config = { ...DEFAULT_CHECKPOINT_CONFIG, ...options.config };
  const log: string[] = [];
  const events = new RecordedEvents();
  const times: number[] = [];
  const handles = new RecordingStore(options.handles, log);
  const blobs = new RecordingBlobStore(options.storageUri, log);
  const store = new CompletedCheckpointStore(handles, blobs, jobId, config.retain);
  const counter = new CheckpointIdCounter(handles, jobId);
  const gateway = new FakeGateway(log);
  const thresholds: string[] = [];
  const f: Omit<Fixture, "coordinator"> & { coordinator?: CheckpointCoordinator } = {
    jobId,
    log,
    events,
    times,
    gateway,
    blobs,
    handles,
    store,
    counter,
    thresholds,
    tasks: TASKS,
    savepointDir: join(fileURLToPath(options.storageUri), "savepoints"),
  };
  f.coordinator = new CheckpointCoordinator({
    jobId,
    session: options.session,
    config,
    counter,
    store,
    blobs,
    tasks: () => f.tasks,
    gateway,
    events: (e) => {
      times.push(monotonicNow());
      events.sink(e);
    },
    logger: silentLogger,
    onFailureThreshold: (reason) => thresholds.push(reason),
  });
  return f as Fixture;
}

/** What a task does: writes one state blob per operator of its chain, then acknowledges. */
export async function ackTask(
  f: Fixture,
  task: CheckpointTask,
  checkpointId: bigint,
  reuse: ReadonlyMap<string, BlobRef> = new Map(),
): Promise<OperatorSubtaskState[]> {
  const states: OperatorSubtaskState[] = [];
  for (const uid of task.operatorUids) {
    const state =
      reuse.get(uid) ??
      (await f.blobs.put(
        `state-${uid}-${task.subtask}`,
        new TextEncoder().encode(`${uid}/${task.subtask}@${checkpointId}`),
      ));
    states.push({ operatorUid: uid, subtask: task.subtask, parallelism: task.parallelism, state });
  }
  f.coordinator.acknowledge(task.executionId, checkpointId, states);
  return states;
}

/** Every task of the fixture acknowledges `checkpointId`. */
export async function ackAll(f: Fixture, checkpointId: bigint): Promise<OperatorSubtaskState[]> {
  const all: OperatorSubtaskState[] = [];
  for (const task of f.tasks) all.push(...(await ackTask(f, task, checkpointId)));
  return all;
}

/** The checkpoint ids of the fixture's events of one kind, in order. */
export function idsOf(f: Fixture, event: string): bigint[] {
  return f.events.of(event).map((e) => e.checkpoint as bigint);
}

/** The monotonic time of the event of kind `event` about `checkpointId`. */
export function timeOf(f: Fixture, event: string, checkpointId: bigint): number {
  const i = f.events.all.findIndex((e) => e.event === event && e.checkpoint === checkpointId);
  if (i < 0) throw new Error(`no ${event} event for checkpoint ${checkpointId}`);
  return f.times[i]!;
}
