// The coordinator's own protocol: periodic triggering, completion order, aborts and their cleanup.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { monotonicNow, sleep } from "../common/clock.ts";
import { CancelledError, InternalError, UnavailableError } from "../common/errors.ts";
import type { BlobRef, OperatorSubtaskState } from "../generated/records.ts";
import { MemoryCoordinator } from "../ha/memory/index.ts";
import { waitUntil } from "../ha/testing.ts";
import type { CheckpointConfig } from "./config.ts";
import { CheckpointCoordinator } from "./coordinator.ts";
import { ackAll, ackTask, exists, type Fixture, fixture, idsOf, leaderOn, TASKS, timeOf } from "./testing.ts";

const cleanups: Array<() => Promise<void>> = [];
let memory: MemoryCoordinator | undefined;

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  memory?.close();
});

async function setup(config: Partial<CheckpointConfig>): Promise<Fixture> {
  memory = new MemoryCoordinator();
  const dir = await mkdtemp(join(tmpdir(), "vigil-checkpoint-test-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const leader = await leaderOn(memory, "jm-a");
  cleanups.push(leader.close);
  const f = fixture({
    session: leader.session,
    handles: leader.backend.store,
    storageUri: pathToFileURL(dir).href,
    config,
  });
  cleanups.push(async () => {
    await f.coordinator.stop();
    await f.gateway.drained();
  });
  return f;
}

const refsOf = (states: readonly OperatorSubtaskState[]): BlobRef[] => states.map((s) => s.state!);

async function allGone(refs: readonly BlobRef[]): Promise<boolean> {
  for (const r of refs) if (await exists(r)) return false;
  return true;
}

describe("CheckpointCoordinator: periodic triggering", () => {
  it("triggers the sources once per interval with increasing ids", async () => {
    const f = await setup({ intervalMs: 30 });
    const started = monotonicNow();
    const at: number[] = [];
    f.gateway.onTrigger = async (_task, id) => {
      at.push(monotonicNow());
      await ackAll(f, id);
    };
    f.coordinator.start();
    await waitUntil(() => idsOf(f, "checkpoint-completed").length >= 4, 3_000);
    await f.coordinator.stop();
    const ids = idsOf(f, "checkpoint-triggered");
    expect(ids.slice(0, 4)).toEqual([1n, 2n, 3n, 4n]);
    expect(new Set(f.gateway.of("trigger").map((c) => c.executionId))).toEqual(new Set(["src-0"]));
    // Each trigger reaches the task after a counter write, whose latency varies by a millisecond or two.
    expect(at[0]! - started).toBeGreaterThanOrEqual(27);
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(27);
  });

  it("waits the min pause after each completion before the next trigger", async () => {
    const f = await setup({ intervalMs: 10, minPauseMs: 80, maxConcurrent: 5 });
    f.gateway.onTrigger = async (_task, id) => void (await ackAll(f, id));
    f.coordinator.start();
    await waitUntil(() => idsOf(f, "checkpoint-completed").length >= 3, 3_000);
    await f.coordinator.stop();
    for (const id of [2n, 3n]) {
      const pause = timeOf(f, "checkpoint-triggered", id) - timeOf(f, "checkpoint-completed", id - 1n);
      expect(pause).toBeGreaterThanOrEqual(78);
    }
  });

  it("keeps at most maxConcurrent in flight; the held-back trigger goes when one completes", async () => {
    const f = await setup({ intervalMs: 10, maxConcurrent: 2 });
    f.coordinator.start();
    await waitUntil(() => idsOf(f, "checkpoint-triggered").length === 2);
    await sleep(80);
    expect(idsOf(f, "checkpoint-triggered")).toEqual([1n, 2n]);
    await ackAll(f, 1n);
    await waitUntil(() => idsOf(f, "checkpoint-triggered").length === 3);
    expect(idsOf(f, "checkpoint-completed")).toEqual([1n]);
    expect(idsOf(f, "checkpoint-triggered")).toEqual([1n, 2n, 3n]);
  });

  it("triggers nothing while the job is not running and aborts the checkpoints of a restarted attempt", async () => {
    const f = await setup({ intervalMs: 10 });
    f.tasks = [];
    f.coordinator.start();
    await sleep(60);
    expect(f.gateway.calls).toEqual([]);
    f.tasks = TASKS;
    await waitUntil(() => idsOf(f, "checkpoint-triggered").length === 1);
    const acked = await ackTask(f, TASKS[0]!, 1n);
    f.tasks = TASKS.map((t) => ({ ...t, executionId: `${t.executionId}-b` }));
    await waitUntil(() => idsOf(f, "checkpoint-triggered").length === 2);
    expect(f.events.of("checkpoint-aborted")).toEqual([
      {
        event: "checkpoint-aborted",
        job: "j1",
        checkpoint: 1n,
        epoch: expect.any(BigInt),
        reason: "the job restarted",
      },
    ]);
    await waitUntil(() => f.gateway.of("trigger", 2n).length === 1);
    expect(f.gateway.of("trigger", 2n)[0]!.executionId).toBe("src-0-b");
    await waitUntil(() => f.log.filter((l) => l.startsWith("delete:state")).length === 2);
    expect(await allGone(refsOf(acked))).toBe(true);
  });

  it("a disabled interval triggers nothing", async () => {
    const f = await setup({ intervalMs: 0 });
    f.coordinator.start();
    await sleep(50);
    expect(f.gateway.calls).toEqual([]);
  });
});

describe("CheckpointCoordinator: completion", () => {
  it("writes the metadata, then the pointer, then notifies every task", async () => {
    const f = await setup({ intervalMs: 20 });
    const acked: OperatorSubtaskState[] = [];
    f.gateway.onTrigger = async (_task, id) => {
      if (id === 1n) acked.push(...(await ackAll(f, id)));
    };
    f.coordinator.start();
    await waitUntil(() => f.gateway.of("notify", 1n).length === 3);
    const order = f.log.filter((l) => !l.startsWith("put:state") && !l.startsWith("trigger:"));
    expect(order).toEqual([
      "put:checkpoint-j1-1",
      "create:jobs/j1/checkpoints/00000000000000000001",
      "notify:src-0:1",
      "notify:sink-0:1",
      "notify:sink-1:1",
    ]);
    const metadata = await CheckpointCoordinator.latestForRestore(f.store, f.blobs);
    expect(metadata).toEqual({
      version: 1,
      jobId: "j1",
      checkpointId: 1n,
      triggeredAtMs: expect.any(BigInt),
      savepoint: false,
      states: acked,
    });
    const pointer = (await f.store.latest())!;
    const bytes = Number(acked.reduce((sum, s) => sum + s.state!.size, pointer.metadata!.size));
    expect(f.events.of("checkpoint-completed")[0]).toEqual({
      event: "checkpoint-completed",
      job: "j1",
      checkpoint: 1n,
      epoch: expect.any(BigInt),
      durationMs: expect.any(Number),
      bytes,
    });
  });

  it("a notification that fails is not fatal: the next checkpoint completes and notifies", async () => {
    const f = await setup({ intervalMs: 10 });
    f.gateway.notifyError = new UnavailableError("taskmanager down");
    f.gateway.onTrigger = async (_task, id) => {
      await ackAll(f, id);
      if (id === 2n) f.gateway.notifyError = undefined;
    };
    f.coordinator.start();
    await waitUntil(() => f.gateway.of("notify", 2n).length === 3);
    expect(f.gateway.of("notify", 1n)).toHaveLength(3); // each rejected
    expect(idsOf(f, "checkpoint-completed").slice(0, 2)).toEqual([1n, 2n]);
    expect(idsOf(f, "checkpoint-aborted")).toEqual([]);
  });
});

describe("CheckpointCoordinator: aborts", () => {
  it("a decline aborts the checkpoint: every task is told and the acknowledged states are deleted", async () => {
    const f = await setup({ intervalMs: 20 });
    let acked: OperatorSubtaskState[] = [];
    f.gateway.onTrigger = async (_task, id) => {
      if (id !== 1n) return;
      acked = await ackTask(f, TASKS[0]!, id);
      f.coordinator.decline("sink-0", id, "disk full");
    };
    f.coordinator.start();
    await waitUntil(() => f.gateway.of("abort", 1n).length === 3);
    expect(f.events.of("checkpoint-aborted")[0]).toMatchObject({
      checkpoint: 1n,
      reason: "declined by task sink-0: disk full",
    });
    expect(f.gateway.of("abort", 1n).map((c) => c.executionId)).toEqual(["src-0", "sink-0", "sink-1"]);
    await waitUntil(() => f.log.filter((l) => l.startsWith("delete:state")).length === 2);
    expect(await allGone(refsOf(acked))).toBe(true);
    expect(await f.store.all()).toEqual([]);
    expect(f.gateway.of("notify")).toEqual([]);
  });

  it("a checkpoint not acknowledged within the timeout is aborted and its acknowledged states deleted", async () => {
    const f = await setup({ intervalMs: 200, timeoutMs: 50 });
    let acked: OperatorSubtaskState[] = [];
    f.gateway.onTrigger = async (_task, id) => {
      acked = await ackTask(f, TASKS[1]!, id);
    };
    f.coordinator.start();
    await waitUntil(() => f.events.of("checkpoint-aborted").length === 1, 3_000);
    const triggered = timeOf(f, "checkpoint-triggered", 1n);
    expect(timeOf(f, "checkpoint-aborted", 1n) - triggered).toBeGreaterThanOrEqual(49);
    expect(f.events.of("checkpoint-aborted")[0]!.reason).toBe(
      "timed out after 50 ms with 1 of 3 tasks acknowledged",
    );
    expect(f.gateway.of("abort", 1n)).toHaveLength(3);
    await waitUntil(() => f.log.includes(`delete:${acked[0]!.state!.uri.split("/").at(-1)}`));
    expect(await exists(acked[0]!.state!)).toBe(false);
  });

  it("deletes the states of a late ack of an aborted checkpoint; ignores unknown and duplicate acks", async () => {
    const f = await setup({ intervalMs: 20 });
    f.gateway.onTrigger = async (_task, id) => {
      if (id === 1n) f.coordinator.decline("src-0", id, "not ready");
    };
    f.coordinator.start();
    await waitUntil(() => f.events.of("checkpoint-aborted").length === 1);
    const late = await ackTask(f, TASKS[2]!, 1n);
    await waitUntil(() => f.log.some((l) => l.startsWith("delete:state-sink-1")));
    expect(await exists(late[0]!.state!)).toBe(false);

    const unknown = await ackTask(f, TASKS[2]!, 99n);
    // Checkpoint 2: src-0 acks twice (the second ack is ignored), then the sinks.
    await waitUntil(() => idsOf(f, "checkpoint-triggered").includes(2n));
    const first = await ackTask(f, TASKS[0]!, 2n);
    const duplicate = await ackTask(f, TASKS[0]!, 2n);
    await ackTask(f, TASKS[1]!, 2n);
    await ackTask(f, TASKS[2]!, 2n);
    await waitUntil(() => idsOf(f, "checkpoint-completed").includes(2n));
    const metadata = (await CheckpointCoordinator.latestForRestore(f.store, f.blobs))!;
    expect(metadata.states.slice(0, 2)).toEqual(first);
    expect(await exists(unknown[0]!.state!)).toBe(true);
    expect(await exists(duplicate[0]!.state!)).toBe(true);
  });

  it("acknowledged states that do not match the task abort the checkpoint", async () => {
    const f = await setup({ intervalMs: 20 });
    f.gateway.onTrigger = (_task, id) => {
      if (id !== 1n) return;
      f.coordinator.acknowledge("sink-0", id, [{ operatorUid: "sink", subtask: 1, parallelism: 2 }]);
    };
    f.coordinator.start();
    await waitUntil(() => f.events.of("checkpoint-aborted").length === 1);
    expect(f.events.of("checkpoint-aborted")[0]!.reason).toBe(
      'task sink-0 acknowledged unusable states: state of operator "sink" is for subtask 1/2, the task is 0/2',
    );
  });

  it("a failed trigger aborts the checkpoint", async () => {
    const f = await setup({ intervalMs: 20 });
    f.gateway.onTrigger = () => {
      throw new UnavailableError("taskmanager tm-1 unreachable");
    };
    f.coordinator.start();
    await waitUntil(() => f.events.of("checkpoint-aborted").length === 1);
    expect(f.events.of("checkpoint-aborted")[0]!.reason).toBe(
      "triggering it on task src-0 failed: taskmanager tm-1 unreachable",
    );
  });

  it("calls onFailureThreshold once more consecutive checkpoints failed than tolerated", async () => {
    const f = await setup({ intervalMs: 10, tolerableFailures: 1 });
    f.gateway.onTrigger = (_task, id) => f.coordinator.decline("sink-1", id, `no ${id}`);
    f.coordinator.start();
    await waitUntil(() => f.thresholds.length === 1);
    expect(idsOf(f, "checkpoint-aborted").slice(0, 2)).toEqual([1n, 2n]);
    expect(f.thresholds[0]).toBe(
      "2 consecutive checkpoints failed, more than checkpointing.tolerableFailures (1); the last: declined by task sink-1: no 2",
    );
  });

  it("stop aborts pending checkpoints, lets a completing one finish without notifying, and is idempotent", async () => {
    const f = await setup({ intervalMs: 10, maxConcurrent: 2 });
    f.coordinator.start();
    await waitUntil(() => idsOf(f, "checkpoint-triggered").length === 2);
    const hold = f.handles.hold("create");
    await ackAll(f, 1n);
    await hold.reached;
    const acked2 = await ackTask(f, TASKS[0]!, 2n);
    const stopped = f.coordinator.stop();
    hold.release();
    await stopped;
    await f.coordinator.stop();
    expect(f.events.of("checkpoint-aborted")).toMatchObject([
      { checkpoint: 2n, reason: "the checkpoint coordinator stopped" },
    ]);
    expect(idsOf(f, "checkpoint-completed")).toEqual([1n]);
    expect((await f.store.latest())?.checkpointId).toBe(1n);
    expect(f.gateway.of("notify")).toEqual([]);
    expect(await exists(acked2[0]!.state!)).toBe(false);
    f.coordinator.acknowledge("src-0", 3n, []);
    await sleep(30);
    expect(idsOf(f, "checkpoint-triggered")).toEqual([1n, 2n]);
    await expect(
      f.coordinator.triggerSavepoint({ directory: f.savepointDir, stop: false }),
    ).rejects.toBeInstanceOf(CancelledError);
  });
});

describe("CheckpointCoordinator: savepoints", () => {
  it("a savepoint fails when the job is not running or a task declines", async () => {
    const f = await setup({ intervalMs: 0 });
    f.coordinator.start();
    f.tasks = [];
    await expect(
      f.coordinator.triggerSavepoint({ directory: f.savepointDir, stop: false }),
    ).rejects.toBeInstanceOf(UnavailableError);
    f.tasks = TASKS;
    f.gateway.onTrigger = (_task, id) => f.coordinator.decline("sink-0", id, "closing");
    await expect(f.coordinator.triggerSavepoint({ directory: f.savepointDir, stop: false })).rejects.toThrow(
      new InternalError("savepoint 1 of job j1: declined by task sink-0: closing"),
    );
  });
});
