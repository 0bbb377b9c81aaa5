import { afterEach, describe, expect, it } from "vitest";
import { CorruptRecordError, StaleFenceError } from "../../common/errors.ts";
import { silentLogger } from "../../common/logger.ts";
import { LeaderElectionService } from "../leader-election-service.ts";
import { GuardedLeaderSession } from "../leader-session.ts";
import { MemoryCoordinator, MemoryHaBackend } from "../memory/index.ts";
import { RecordingContender, waitUntil } from "../testing.ts";
import { TaskManagerRegistryStore } from "./task-manager-registry-store.ts";

const config = { clusterId: "c1", ttlMs: 1_000, safetyMarginMs: 30 };
const open: Array<{ close(): Promise<void> }> = [];
let coordinator: MemoryCoordinator;

afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  coordinator?.close();
});

async function leader() {
  const backend = new MemoryHaBackend(coordinator, config);
  open.push(backend);
  const service = new LeaderElectionService(backend.createElectionDriver("test"), "a", silentLogger);
  open.push(service);
  const rec = new RecordingContender(service, "a", "a:1");
  await service.start(rec);
  await waitUntil(() => rec.leading);
  return { backend, session: rec.session! };
}

const ids = async (registry: TaskManagerRegistryStore) => (await registry.get()).taskmanagerIds;

describe("TaskManagerRegistryStore", () => {
  it("adds and removes ids (fenced), sorted, and drops the record when empty", async () => {
    coordinator = new MemoryCoordinator();
    const { backend, session } = await leader();
    const registry = new TaskManagerRegistryStore(backend.store);
    expect(await registry.get()).toEqual({ taskmanagerIds: [], taskLeaseMs: 0 });
    await registry.add(["tm-b", "tm-a"], 2_000, session);
    await registry.add(["tm-a"], 2_000, session);
    expect(await ids(registry)).toEqual(["tm-a", "tm-b"]);
    await registry.remove(["tm-a", "tm-x"], 2_000, session);
    expect(await ids(registry)).toEqual(["tm-b"]);
    await registry.remove(["tm-b"], 2_000, session);
    expect(await backend.store.get("taskmanagers")).toBeUndefined();
  });

  it("keeps the longest task lease any writer granted, and raises it even when the ids are listed", async () => {
    coordinator = new MemoryCoordinator();
    const { backend, session } = await leader();
    const registry = new TaskManagerRegistryStore(backend.store);
    await registry.add(["tm-a", "tm-b"], 5_000, session);
    await registry.add(["tm-a"], 2_000, session);
    expect(await registry.get()).toEqual({ taskmanagerIds: ["tm-a", "tm-b"], taskLeaseMs: 5_000 });
    const version = (await backend.store.get("taskmanagers"))!.version;
    await registry.remove(["tm-x"], 9_000, session); // nothing to remove: no write at all
    expect((await backend.store.get("taskmanagers"))!.version).toBe(version);
    // A leader with a longer timeout records it before it deploys to a TaskManager listed already.
    await registry.add(["tm-a"], 8_000, session);
    expect(await registry.get()).toEqual({ taskmanagerIds: ["tm-a", "tm-b"], taskLeaseMs: 8_000 });
    await registry.remove(["tm-a"], 3_000, session);
    expect(await registry.get()).toEqual({ taskmanagerIds: ["tm-b"], taskLeaseMs: 8_000 });
  });

  it("refuses a deposed leader's write and names the key of a corrupt record", async () => {
    coordinator = new MemoryCoordinator();
    const { backend, session } = await leader();
    const registry = new TaskManagerRegistryStore(backend.store);
    const stale = new GuardedLeaderSession(
      session.epoch + 1_000n,
      session.electionKey,
      Number.POSITIVE_INFINITY,
      () => {},
    );
    await expect(registry.add(["tm-a"], 1_000, stale)).rejects.toBeInstanceOf(StaleFenceError);
    expect(await ids(registry)).toEqual([]);
    await backend.store.create("taskmanagers", new Uint8Array([0xff, 0xff]), session);
    await expect(registry.get()).rejects.toThrow(CorruptRecordError);
    await expect(registry.get()).rejects.toThrow(/taskmanagers/);
    await expect(registry.add(["tm-a"], 1_000, session)).rejects.toThrow(CorruptRecordError);
  });

  it("reset overwrites a corrupt record (fenced), or removes it when given no ids", async () => {
    coordinator = new MemoryCoordinator();
    const { backend, session } = await leader();
    const registry = new TaskManagerRegistryStore(backend.store);
    await backend.store.create("taskmanagers", new Uint8Array([0xff, 0xff]), session);
    const stale = new GuardedLeaderSession(
      session.epoch + 1_000n,
      session.electionKey,
      Number.POSITIVE_INFINITY,
      () => {},
    );
    await expect(registry.reset([], 1_000, stale)).rejects.toBeInstanceOf(StaleFenceError);
    await registry.reset(["tm-b", "tm-a"], 1_500, session);
    expect(await registry.get()).toEqual({ taskmanagerIds: ["tm-a", "tm-b"], taskLeaseMs: 1_500 });
    await backend.store.replace(
      "taskmanagers",
      new Uint8Array([0xff]),
      (await backend.store.get("taskmanagers"))!.version,
      session,
    );
    await registry.reset([], 1_500, session);
    expect(await backend.store.get("taskmanagers")).toBeUndefined();
    await registry.reset([], 1_500, session); // nothing stored: nothing to do
    expect(await registry.get()).toEqual({ taskmanagerIds: [], taskLeaseMs: 0 });
  });
});
