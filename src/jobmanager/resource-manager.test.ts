import { afterEach, describe, expect, it } from "vitest";
import { monotonicNow, sleep } from "../common/clock.ts";
import { RecordedEvents } from "../common/events.ts";
import { silentLogger } from "../common/logger.ts";
import type { TaskDescriptor } from "../generated/records.ts";
import { MemoryCoordinator } from "../ha/memory/index.ts";
import { TaskManagerRegistryStore } from "../ha/stores/task-manager-registry-store.ts";
import { RegistryWriter } from "./registry-writer.ts";
import { ResourceManager, type TaskExecutorClient } from "./resource-manager.ts";
import { ControlledStore, testSession } from "./testing-leader.ts";

let coordinator: MemoryCoordinator | undefined;
const open: Array<{ close(): unknown }> = [];

afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  coordinator?.close();
  coordinator = undefined;
});

const task = (executionId: string): Omit<TaskDescriptor, "slot" | "epoch"> => ({
  jobId: "j1",
  executionId,
  subtask: 0,
  parallelism: 1,
  attempt: 0,
  chain: [],
  inputs: [],
  outputs: [],
  restore: [],
  restoredCheckpointId: 0n,
});

/** A leader's resource manager with one registered TaskManager (one slot) that never heartbeats. */
async function withOneTaskManager(client: Partial<TaskExecutorClient>) {
  coordinator = new MemoryCoordinator();
  const s = await testSession(coordinator);
  open.push(s);
  const store = new ControlledStore(s.backend.store);
  const events = new RecordedEvents();
  const registry = new RegistryWriter({
    session: s.session,
    registry: new TaskManagerRegistryStore(store),
    read: { taskmanagerIds: [], taskLeaseMs: 0 },
    taskLeaseMs: 200,
    leasesEndAt: 0,
    signal: s.session.signal,
    events: events.sink,
    logger: silentLogger,
  });
  const rm = new ResourceManager({
    session: s.session,
    name: "jm",
    heartbeatIntervalMs: 50,
    heartbeatTimeoutMs: 200,
    registry,
    connect: () => ({
      deployTask: async () => ({}),
      cancelTask: async () => ({ state: "EXECUTION_STATE_CANCELED" }),
      triggerCheckpoint: async () => ({}),
      notifyCheckpointComplete: async () => ({}),
      abortCheckpoint: async () => ({}),
      close: () => {},
      ...client,
    }),
    events: events.sink,
    logger: silentLogger,
    onResourcesChanged: () => {},
  });
  rm.start();
  open.push({ close: () => rm.close() });
  await rm.registerTaskManager({
    taskmanagerId: "tm-1",
    address: "tm-1:1",
    slots: 1,
    epoch: s.session.epoch,
  });
  return { rm, store, events };
}

describe("ResourceManager", () => {
  it("does not send a deploy whose execution lost its slot while the registry write was in flight", async () => {
    const deployed: string[] = [];
    const { rm, store } = await withOneTaskManager({
      deployTask: async (request) => {
        deployed.push(request.task!.executionId);
        return {};
      },
    });
    expect(rm.allocate([{ executionId: "e0", observer: () => {} }])).toHaveLength(1);
    const listing = store.hold("create", "taskmanagers");
    const deploying = rm.deploy(task("e0"));
    await listing.reached;
    // Meanwhile a restart cancels attempt 0 and gives its slot to attempt 1.
    await rm.cancel("e0");
    expect(rm.holds("e0")).toBe(false);
    expect(rm.allocate([{ executionId: "e1", observer: () => {} }])?.[0]?.slot).toBe(0);
    listing.release();
    await expect(deploying).rejects.toThrow(/e0/);
    expect(deployed).toEqual([]);
    await rm.deploy(task("e1"));
    expect(deployed).toEqual(["e1"]);
  });

  it("aborts calls in flight to a TaskManager when it is dropped", async () => {
    const { rm, events } = await withOneTaskManager({
      // A TaskManager that never answers: only the call's signal ends the call.
      cancelTask: (_request, options) =>
        new Promise((_resolve, reject) => {
          const signal = options?.signal;
          signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
        }),
    });
    rm.allocate([{ executionId: "e0", observer: () => {} }]);
    const started = monotonicNow();
    const cancelling = rm.cancel("e0").then(
      () => "answered",
      () => "aborted",
    );
    const outcome = await Promise.race([cancelling, sleep(1_500).then(() => "still waiting")]);
    expect(outcome).toBe("aborted");
    // About the heartbeat timeout (200 ms), not the call's deadline.
    expect(monotonicNow() - started).toBeLessThan(1_000);
    expect(events.of("taskmanager-lost")).toHaveLength(1);
  });
});
