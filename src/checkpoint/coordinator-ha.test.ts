// The coordinator against leadership and storage: retention, ids across leaders, fencing of a deposed
// leader, unknown pointer-write outcomes, strict restore, savepoints.
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { sleep } from "../common/clock.ts";
import {
  BackendUnavailableError,
  CorruptRecordError,
  LeadershipLostError,
  PossiblyInconsistentStateError,
  UnavailableError,
} from "../common/errors.ts";
import type { BlobRef, OperatorSubtaskState } from "../generated/records.ts";
import type { LeaderSession } from "../ha/leader-session.ts";
import { MemoryCoordinator } from "../ha/memory/index.ts";
import type { StateHandleStore } from "../ha/state-handle-store.ts";
import { waitUntil } from "../ha/testing.ts";
import type { CheckpointConfig } from "./config.ts";
import { CheckpointCoordinator } from "./coordinator.ts";
import { readMetadata } from "./metadata.ts";
import { readSavepointMetadata } from "./savepoint-directory.ts";
import { ackAll, ackTask, exists, type Fixture, fixture, idsOf, leaderOn, TASKS, zombie } from "./testing.ts";

const cleanups: Array<() => Promise<void>> = [];
let memory: MemoryCoordinator;
let storageUri: string;

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  memory?.close();
});

async function init(): Promise<void> {
  memory = new MemoryCoordinator();
  const dir = await mkdtemp(join(tmpdir(), "vigil-checkpoint-ha-test-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  storageUri = pathToFileURL(dir).href;
}

async function leader(name: string) {
  const l = await leaderOn(memory, name);
  cleanups.push(l.close);
  return l;
}

function coordinatorFor(
  session: LeaderSession,
  handles: StateHandleStore,
  config: Partial<CheckpointConfig>,
): Fixture {
  const f = fixture({ session, handles, storageUri, config });
  cleanups.push(async () => {
    await f.coordinator.stop();
    await f.gateway.drained();
  });
  return f;
}

const refsOf = (states: readonly OperatorSubtaskState[]): BlobRef[] => states.map((s) => s.state!);

async function existing(refs: readonly BlobRef[]): Promise<boolean[]> {
  return Promise.all(refs.map(exists));
}

describe("CheckpointCoordinator: retention", () => {
  it("deletes a subsumed checkpoint's files after its pointer, keeping state a retained one shares", async () => {
    await init();
    const a = await leader("jm-a");
    const f = coordinatorFor(a.session, a.backend.store, { intervalMs: 10, retain: 2 });
    const states = new Map<bigint, OperatorSubtaskState[]>();
    f.gateway.onTrigger = async (_task, id) => {
      if (id > 4n) return;
      // Checkpoint 2's sink-1 reuses checkpoint 1's unchanged state blob.
      const shared = id === 2n ? new Map([["sink", states.get(1n)![3]!.state!]]) : new Map<string, BlobRef>();
      const acked = [
        ...(await ackTask(f, TASKS[0]!, id)),
        ...(await ackTask(f, TASKS[1]!, id)),
        ...(await ackTask(f, TASKS[2]!, id, shared)),
      ];
      states.set(id, acked);
    };
    f.coordinator.start();
    await waitUntil(() => idsOf(f, "checkpoint-completed").includes(3n), 2_000);
    await waitUntil(() => f.log.some((l) => l.startsWith("delete:checkpoint-j1-1-")));
    expect((await f.store.all()).map((c) => c.checkpointId)).toEqual([2n, 3n]);
    const one = refsOf(states.get(1n)!);
    await waitUntil(() => f.log.filter((l) => l.startsWith("delete:state")).length === 3);
    expect(await existing(one)).toEqual([false, false, false, true]); // the shared sink-1 blob stays
    const removed = f.log.indexOf("remove:jobs/j1/checkpoints/00000000000000000001");
    const deleted = f.log.findIndex((l) => l.startsWith("delete:checkpoint-j1-1-"));
    expect(removed).toBeGreaterThanOrEqual(0);
    expect(deleted).toBeGreaterThan(removed);
    expect(f.log.findIndex((l) => l.startsWith("delete:state"))).toBeGreaterThan(removed);

    await waitUntil(() => idsOf(f, "checkpoint-completed").includes(4n), 2_000);
    await waitUntil(() => f.log.filter((l) => l.startsWith("delete:state")).length === 7);
    expect(await existing(refsOf(states.get(2n)!))).toEqual([false, false, false, false]);
    expect(await existing(refsOf(states.get(3n)!))).toEqual([true, true, true, true]);
  });

  it("an aborted checkpoint's states are deleted except those a retained checkpoint shares", async () => {
    await init();
    const a = await leader("jm-a");
    const f = coordinatorFor(a.session, a.backend.store, { intervalMs: 10 });
    let one: OperatorSubtaskState[] = [];
    let two: OperatorSubtaskState[] = [];
    f.gateway.onTrigger = async (_task, id) => {
      if (id === 1n) one = await ackAll(f, id);
      if (id !== 2n) return;
      two = [
        ...(await ackTask(f, TASKS[0]!, id)),
        ...(await ackTask(f, TASKS[2]!, id, new Map([["sink", one[3]!.state!]]))),
      ];
      f.coordinator.decline("sink-0", id, "no space");
    };
    f.coordinator.start();
    await waitUntil(() => idsOf(f, "checkpoint-aborted").includes(2n));
    await waitUntil(() => f.log.filter((l) => l.startsWith("delete:state")).length === 2);
    await f.coordinator.stop();
    expect(await existing(refsOf(two))).toEqual([false, false, true]);
    expect(await existing(refsOf(one))).toEqual([true, true, true, true]);
  });
});

describe("CheckpointCoordinator: leaders", () => {
  it("ids keep increasing across leaders sharing the store; the new leader subsumes the old one's files", async () => {
    await init();
    const a = await leader("jm-a");
    const fa = coordinatorFor(a.session, a.backend.store, { intervalMs: 10 });
    const acked = new Map<bigint, OperatorSubtaskState[]>();
    fa.gateway.onTrigger = async (_task, id) => void acked.set(id, await ackAll(fa, id));
    fa.coordinator.start();
    await waitUntil(() => idsOf(fa, "checkpoint-completed").length >= 2);
    await fa.coordinator.stop();
    await a.close();
    const lastOfA = idsOf(fa, "checkpoint-completed").at(-1)!;

    const b = await leader("jm-b");
    expect(b.session.epoch).toBeGreaterThan(a.session.epoch);
    const fb = coordinatorFor(b.session, b.backend.store, { intervalMs: 10 });
    fb.gateway.onTrigger = async (_task, id) => void acked.set(id, await ackAll(fb, id));
    fb.coordinator.start();
    await waitUntil(() => idsOf(fb, "checkpoint-completed").length >= 1);
    const first = idsOf(fb, "checkpoint-triggered")[0]!;
    const highestOfA = idsOf(fa, "checkpoint-triggered").reduce((m, x) => (x > m ? x : m), 0n);
    expect(first).toBeGreaterThan(highestOfA);
    expect(highestOfA).toBeGreaterThanOrEqual(lastOfA);
    expect(fb.events.of("checkpoint-completed")[0]!.epoch).toBe(b.session.epoch);
    expect((await fb.store.all()).map((c) => c.checkpointId)).toEqual([first]);
    // B learned A's last checkpoint from its metadata and deleted its states once subsumed.
    await waitUntil(() => fb.log.filter((l) => l.startsWith("delete:state")).length === 4);
    expect(await existing(refsOf(acked.get(lastOfA)!))).toEqual([false, false, false, false]);
  });

  it("a revoked session triggers nothing and stops the coordinator", async () => {
    await init();
    const a = await leader("jm-a");
    const f = coordinatorFor(a.session, a.backend.store, { intervalMs: 10 });
    f.coordinator.start();
    await waitUntil(() => idsOf(f, "checkpoint-triggered").length === 1);
    await a.close();
    await waitUntil(() => f.events.of("checkpoint-aborted").length === 1);
    expect(f.events.of("checkpoint-aborted")[0]!.reason).toBe("the checkpoint coordinator stopped");
    await ackAll(f, 1n);
    await sleep(50);
    expect(idsOf(f, "checkpoint-triggered")).toEqual([1n]);
    expect(f.gateway.of("abort")).toEqual([]); // no leader action after the session ended
    expect(f.gateway.of("notify")).toEqual([]);
    await expect(
      f.coordinator.triggerSavepoint({ directory: f.savepointDir, stop: false }),
    ).rejects.toBeInstanceOf(LeadershipLostError);

    const late = coordinatorFor(a.session, a.backend.store, { intervalMs: 10 });
    late.coordinator.start();
    await sleep(50);
    expect(late.gateway.calls).toEqual([]);
  });

  it("a deposed leader that does not know it: its pointer write and its next id are refused by the fence", async () => {
    await init();
    const a = await leader("jm-a");
    const f = coordinatorFor(zombie(a.session), a.backend.store, { intervalMs: 10 });
    f.coordinator.start();
    await waitUntil(() => idsOf(f, "checkpoint-triggered").length === 1);
    await a.resign();
    const b = await leader("jm-b");
    const acked = await ackAll(f, 1n);
    await waitUntil(() => f.events.of("checkpoint-aborted").length === 1);
    expect(f.events.of("checkpoint-aborted")[0]!.reason).toMatch(
      /^writing its pointer failed: .*refused: leader epoch \d+ is no longer the current leader session$/,
    );
    expect(await b.backend.store.list("jobs/j1/checkpoints")).toEqual([]);
    expect(f.gateway.of("notify")).toEqual([]);
    const metadata = f.log.find((l) => l.startsWith("put:checkpoint-j1-1"));
    expect(metadata).toBeDefined();
    await waitUntil(() => f.log.filter((l) => l.startsWith("delete:")).length === 5);
    expect(await existing(refsOf(acked))).toEqual([false, false, false, false]);
    await sleep(50);
    expect(idsOf(f, "checkpoint-triggered")).toEqual([1n]); // the counter refused every later id
  });
});

describe("CheckpointCoordinator: pointer write outcomes", () => {
  it("an unknown outcome keeps every file and tells the tasks nothing", async () => {
    await init();
    const a = await leader("jm-a");
    const f = coordinatorFor(a.session, a.backend.store, { intervalMs: 20 });
    f.handles.failWrite = (op, key) =>
      op === "create"
        ? new PossiblyInconsistentStateError("create", key, new Error("connection lost"))
        : undefined;
    let acked: OperatorSubtaskState[] = [];
    f.gateway.onTrigger = async (_task, id) => {
      if (id === 1n) acked = await ackAll(f, id);
    };
    f.coordinator.start();
    await waitUntil(() => f.events.of("checkpoint-aborted").length === 1, 2_000);
    expect(f.events.of("checkpoint-aborted")[0]!.reason).toMatch(
      /the outcome is unknown, so its files are kept/,
    );
    await f.coordinator.stop();
    expect(f.log.filter((l) => l.startsWith("delete:"))).toEqual([]);
    expect(await existing(refsOf(acked))).toEqual([true, true, true, true]);
    expect(f.gateway.of("abort", 1n)).toEqual([]);
    expect(f.gateway.of("notify")).toEqual([]);
  });

  it("an add that fails after its pointer landed counts as completed", async () => {
    await init();
    const a = await leader("jm-a");
    const f = coordinatorFor(a.session, a.backend.store, { intervalMs: 10 });
    f.gateway.onTrigger = async (_task, id) => {
      if (id <= 2n) await ackAll(f, id);
    };
    f.handles.failWrite = (op, key) =>
      op === "remove" ? new BackendUnavailableError(`remove ${key}: unreachable`) : undefined;
    f.coordinator.start();
    await waitUntil(() => f.gateway.of("notify", 2n).length === 3, 2_000);
    expect(idsOf(f, "checkpoint-completed")).toEqual([1n, 2n]);
    expect((await f.store.all()).map((c) => c.checkpointId)).toEqual([1n, 2n]);
  });
});

describe("CheckpointCoordinator.latestForRestore", () => {
  it("reads the latest checkpoint strictly: a corrupt or missing metadata blob throws, never falls back", async () => {
    await init();
    const a = await leader("jm-a");
    const f = coordinatorFor(a.session, a.backend.store, { intervalMs: 10, retain: 2 });
    expect(await CheckpointCoordinator.latestForRestore(f.store, f.blobs)).toBeUndefined();
    f.gateway.onTrigger = async (_task, id) => {
      if (id <= 2n) await ackAll(f, id);
    };
    f.coordinator.start();
    await waitUntil(() => idsOf(f, "checkpoint-completed").length === 2);
    await f.coordinator.stop();
    expect((await CheckpointCoordinator.latestForRestore(f.store, f.blobs))?.checkpointId).toBe(2n);
    const [older, latest] = await f.store.all();
    expect(await readMetadata(f.blobs, older!.metadata!, { jobId: "j1", checkpointId: 1n })).toBeDefined();

    const path = fileURLToPath(latest!.metadata!.uri);
    await writeFile(path, new Uint8Array(Number(latest!.metadata!.size)));
    await expect(CheckpointCoordinator.latestForRestore(f.store, f.blobs)).rejects.toThrow(
      new CorruptRecordError(latest!.metadata!.uri, "does not match its pointer's checksum"),
    );
    await rm(path);
    await expect(CheckpointCoordinator.latestForRestore(f.store, f.blobs)).rejects.toThrow(
      /checkpoints\/00000000000000000002: stored record cannot be read: its metadata .* is missing; cannot restore/,
    );
  });
});

describe("CheckpointCoordinator: savepoints", () => {
  it("a savepoint is a directory of its own: never in the store, notified, or subsumed; storage keeps nothing of it", async () => {
    await init();
    const a = await leader("jm-a");
    const f = coordinatorFor(a.session, a.backend.store, { intervalMs: 20, retain: 1 });
    const acked = new Map<bigint, OperatorSubtaskState[]>();
    f.gateway.onTrigger = async (_task, id, savepoint) => {
      if (savepoint || id <= 5n) acked.set(id, await ackAll(f, id));
    };
    f.coordinator.start();
    const savepoint = await f.coordinator.triggerSavepoint({ directory: f.savepointDir, stop: false });
    expect(savepoint.checkpointId).toBe(1n);
    expect(savepoint.path.startsWith(join(f.savepointDir, "savepoint-j1-1-"))).toBe(true);
    expect(f.gateway.of("trigger", 1n)).toEqual([
      { kind: "trigger", executionId: "src-0", checkpointId: 1n, savepoint: true },
    ]);
    await waitUntil(() => idsOf(f, "checkpoint-completed").length >= 4, 2_000);
    await f.coordinator.stop();
    const { metadata } = await readSavepointMetadata(savepoint.path);
    expect(metadata.savepoint).toBe(true);
    expect(metadata.states.map((s) => [s.operatorUid, s.subtask, s.state?.sha256])).toEqual(
      acked.get(1n)!.map((s) => [s.operatorUid, s.subtask, s.state?.sha256]),
    );
    expect(metadata.states.every((s) => !s.state!.uri.includes("/"))).toBe(true); // relocatable
    expect(await existing(refsOf(acked.get(1n)!))).toEqual([false, false, false, false]); // copied out
    expect((await f.store.all()).map((c) => c.checkpointId)).not.toContain(1n);
    expect(f.gateway.of("notify", 1n)).toEqual([]);
    expect(f.gateway.of("notify", 2n)).toHaveLength(3);
    expect(await existing(refsOf(acked.get(2n)!))).toEqual([false, false, false, false]); // subsumed
  });

  it("stop-with-savepoint: no checkpoint after its barrier, stored and notified like a checkpoint, notification retried until it arrives", async () => {
    await init();
    const a = await leader("jm-a");
    const f = coordinatorFor(a.session, a.backend.store, { intervalMs: 20, retain: 1 });
    let stopAcks: OperatorSubtaskState[] = [];
    f.gateway.onTrigger = async (_task, id, savepoint) => {
      if (savepoint) stopAcks = await ackAll(f, id);
      else await ackAll(f, id);
    };
    f.coordinator.start();
    await waitUntil(() => idsOf(f, "checkpoint-completed").length >= 2, 2_000);
    f.gateway.notifyError = new UnavailableError("taskmanager unreachable");
    const stop = f.coordinator.triggerSavepoint({ directory: f.savepointDir, stop: true });
    await expect(f.coordinator.triggerSavepoint({ directory: f.savepointDir, stop: false })).rejects.toThrow(
      /the job is stopping with/,
    );
    const result = await stop;
    expect(f.gateway.of("trigger", result.checkpointId)).toEqual([
      {
        kind: "trigger",
        executionId: "src-0",
        checkpointId: result.checkpointId,
        savepoint: true,
        stopSources: true,
      },
    ]);
    expect((await f.store.latest())?.checkpointId).toBe(result.checkpointId);
    await waitUntil(() => f.gateway.of("notify", result.checkpointId).length >= 6, 3_000); // retried
    f.gateway.notifyError = undefined;
    await sleep(300); // back-off; then delivered once more per task, and never again
    const delivered = f.gateway.of("notify", result.checkpointId).length;
    await sleep(300);
    expect(f.gateway.of("notify", result.checkpointId)).toHaveLength(delivered);
    expect(idsOf(f, "checkpoint-triggered").at(-1)).toBe(result.checkpointId); // periodic paused
    const { metadata } = await readSavepointMetadata(result.path);
    expect(metadata.states.map((s) => s.state?.sha256)).toEqual(stopAcks.map((s) => s.state?.sha256));
    expect(await existing(refsOf(stopAcks))).toEqual([true, true, true, true]); // the job's checkpoint now
  });

  it("a stop-with-savepoint that fails lets periodic checkpoints go on", async () => {
    await init();
    const a = await leader("jm-a");
    const f = coordinatorFor(a.session, a.backend.store, { intervalMs: 20 });
    f.gateway.onTrigger = async (_task, id, savepoint) => {
      if (savepoint) f.coordinator.decline("sink-0", id, "closing");
      else await ackAll(f, id);
    };
    f.coordinator.start();
    await expect(f.coordinator.triggerSavepoint({ directory: f.savepointDir, stop: true })).rejects.toThrow(
      /declined by task sink-0: closing/,
    );
    const failedAt = idsOf(f, "checkpoint-triggered").length;
    await waitUntil(() => idsOf(f, "checkpoint-completed").length >= 2, 2_000);
    expect(idsOf(f, "checkpoint-triggered").length).toBeGreaterThan(failedAt);
    expect(await readdir(f.savepointDir).catch(() => [])).toEqual([]);
  });

  it("a savepoint that cannot be written fails, and leaves no state behind", async () => {
    await init();
    const a = await leader("jm-a");
    const f = coordinatorFor(a.session, a.backend.store, { intervalMs: 0 });
    let acked: OperatorSubtaskState[] = [];
    f.gateway.onTrigger = async (_task, id) => {
      acked = await ackAll(f, id);
    };
    f.coordinator.start();
    const blocker = join(fileURLToPath(storageUri), "not-a-directory");
    await writeFile(blocker, "x");
    await expect(f.coordinator.triggerSavepoint({ directory: blocker, stop: false })).rejects.toThrow(
      /writing the savepoint directory failed/,
    );
    await f.coordinator.stop(); // waits for its file work
    expect(await existing(refsOf(acked))).toEqual([false, false, false, false]);
  });
});
