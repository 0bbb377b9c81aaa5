// Test doubles for driving one leader's pieces directly (no test framework imports here): a store whose calls
// tests can hold or fail one at a time, a Dispatcher granted by hand on a real memory-backend session, and a
// diagnostic writer that puts arbitrary bytes under a key with a fence of its own.
import { RecordedEvents } from "../common/events.ts";
import { silentLogger } from "../common/logger.ts";
import { LeaderElectionService } from "../ha/leader-election-service.ts";
import type { LeaderSession } from "../ha/leader-session.ts";
import { type MemoryCoordinator, MemoryHaBackend } from "../ha/memory/index.ts";
import type { StateHandleStore, StoredEntry, StoreWatch } from "../ha/state-handle-store.ts";
import { JobGraphStore } from "../ha/stores/job-graph-store.ts";
import { JobResultStore } from "../ha/stores/job-result-store.ts";
import { TaskManagerRegistryStore } from "../ha/stores/task-manager-registry-store.ts";
import { RecordingContender, waitUntil } from "../ha/testing.ts";
import { Dispatcher } from "./dispatcher.ts";
import type { TaskExecutorClient } from "./resource-manager.ts";
import { TEST_HA } from "./testing.ts";

export type StoreOp = "get" | "create" | "replace" | "remove";

/** A held store call: `reached` resolves when it arrives; release() lets it go on. */
export interface StoreHold {
  readonly reached: Promise<void>;
  release(): void;
}

interface Held {
  readonly op: StoreOp;
  readonly key: string;
  /** "before": the call reaches the backend only once released; "after": it does, its answer waits. */
  readonly when: "before" | "after";
  readonly arrived: () => void;
  readonly released: Promise<void>;
}

/** A StateHandleStore that passes every call on, except the ones a test holds or fails. */
export class ControlledStore implements StateHandleStore {
  private readonly holds: Held[] = [];
  private readonly failures: Array<{ op: StoreOp; key: string; error: Error }> = [];

  constructor(private readonly inner: StateHandleStore) {}

  get maxValueBytes(): number {
    return this.inner.maxValueBytes;
  }

  /** Holds the next call of `op` on `key`. */
  hold(op: StoreOp, key: string, when: "before" | "after" = "before"): StoreHold {
    let arrived = (): void => {};
    const reached = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    let release = (): void => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.holds.push({ op, key, when, arrived, released });
    return { reached, release };
  }

  /** The next call of `op` on `key` fails with `error` without reaching the backend. */
  failNext(op: StoreOp, key: string, error: Error): void {
    this.failures.push({ op, key, error });
  }

  get(key: string): Promise<StoredEntry | undefined> {
    return this.around("get", key, () => this.inner.get(key));
  }

  list(dir: string): Promise<StoredEntry[]> {
    return this.inner.list(dir);
  }

  create(key: string, value: Uint8Array, fence: LeaderSession): Promise<bigint> {
    return this.around("create", key, () => this.inner.create(key, value, fence));
  }

  replace(key: string, value: Uint8Array, expectedVersion: bigint, fence: LeaderSession): Promise<bigint> {
    return this.around("replace", key, () => this.inner.replace(key, value, expectedVersion, fence));
  }

  remove(key: string, fence: LeaderSession, expectedVersion?: bigint): Promise<boolean> {
    return this.around("remove", key, () => this.inner.remove(key, fence, expectedVersion));
  }

  watch(dir: string, onChange: Parameters<StateHandleStore["watch"]>[1]): Promise<StoreWatch> {
    return this.inner.watch(dir, onChange);
  }

  private async around<T>(op: StoreOp, key: string, call: () => Promise<T>): Promise<T> {
    const f = this.failures.findIndex((x) => x.op === op && x.key === key);
    if (f >= 0) throw this.failures.splice(f, 1)[0]!.error;
    const i = this.holds.findIndex((h) => h.op === op && h.key === key);
    if (i < 0) return call();
    const h = this.holds.splice(i, 1)[0]!;
    h.arrived();
    if (h.when === "before") {
      await h.released;
      return call();
    }
    try {
      return await call();
    } finally {
      await h.released;
    }
  }
}

/** A leader session of a contender of its own election on `coordinator`; close() ends it. */
export async function testSession(
  coordinator: MemoryCoordinator,
  election = "test-leader",
): Promise<{ backend: MemoryHaBackend; session: LeaderSession; close(): Promise<void> }> {
  const backend = new MemoryHaBackend(coordinator, TEST_HA);
  const service = new LeaderElectionService(backend.createElectionDriver(election), "test", silentLogger);
  const contender = new RecordingContender(service, "test", "test:0");
  contender.autoConfirm = false;
  await service.start(contender);
  await waitUntil(() => contender.leading);
  return {
    backend,
    session: contender.session!,
    close: async () => {
      await service.close();
      await backend.close();
    },
  };
}

/** Writes `value` under `key` with a diagnostic session's fence (e.g. to plant a corrupt record). */
export async function writeRaw(
  coordinator: MemoryCoordinator,
  key: string,
  value: Uint8Array,
): Promise<void> {
  const writer = await testSession(coordinator, "diagnostic");
  try {
    const old = await writer.backend.store.get(key);
    if (old) await writer.backend.store.replace(key, value, old.version, writer.session);
    else await writer.backend.store.create(key, value, writer.session);
  } finally {
    await writer.close();
  }
}

export interface DirectLeader {
  readonly session: LeaderSession;
  readonly store: ControlledStore;
  readonly graphs: JobGraphStore;
  readonly results: JobResultStore;
  readonly dispatcher: Dispatcher;
  readonly events: RecordedEvents;
  close(): Promise<void>;
}

/**
 * A Dispatcher on a ControlledStore with a real session, not yet granted: the test stores what it needs
 * through `graphs`/`results`, then calls `dispatcher.grantLeadership(session)` itself. No TaskManagers.
 */
export async function directLeader(coordinator: MemoryCoordinator): Promise<DirectLeader> {
  const { backend, session, close } = await testSession(coordinator);
  const store = new ControlledStore(backend.store);
  const events = new RecordedEvents();
  const graphs = new JobGraphStore(store, undefined);
  const results = new JobResultStore(store);
  const unreachable = (): TaskExecutorClient => {
    throw new Error("no taskmanagers in this test");
  };
  const dispatcher = new Dispatcher({
    name: "direct",
    graphs,
    results,
    registry: new TaskManagerRegistryStore(store),
    store,
    blobs: undefined,
    heartbeatIntervalMs: 50,
    heartbeatTimeoutMs: 200,
    safetyMarginMs: TEST_HA.safetyMarginMs,
    connectTaskExecutor: unreachable,
    events: events.sink,
    logger: silentLogger,
  });
  return {
    session,
    store,
    graphs,
    results,
    dispatcher,
    events,
    close: async () => {
      dispatcher.revokeLeadership(session, "test over");
      await dispatcher.drained();
      await close();
    },
  };
}
