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

describe("TaskManagerRegistryStore", () => {
  it("adds and removes ids (fenced), sorted, and drops the record when empty", async () => {
    coordinator = new MemoryCoordinator();
    const { backend, session } = await leader();
    const registry = new TaskManagerRegistryStore(backend.store);
    expect(await registry.get()).toEqual([]);
    await registry.add(["tm-b", "tm-a"], session);
    await registry.add(["tm-a"], session);
    expect(await registry.get()).toEqual(["tm-a", "tm-b"]);
    await registry.remove(["tm-a", "tm-x"], session);
    expect(await registry.get()).toEqual(["tm-b"]);
    await registry.remove(["tm-b"], session);
    expect(await backend.store.get("taskmanagers")).toBeUndefined();
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
    await expect(registry.add(["tm-a"], stale)).rejects.toBeInstanceOf(StaleFenceError);
    expect(await registry.get()).toEqual([]);
    await backend.store.create("taskmanagers", new Uint8Array([0xff, 0xff]), session);
    await expect(registry.get()).rejects.toThrow(CorruptRecordError);
    await expect(registry.get()).rejects.toThrow(/taskmanagers/);
  });
});
