import { afterEach, describe, expect, it } from "vitest";
import { monotonicNow } from "../common/clock.ts";
import { RecordedEvents } from "../common/events.ts";
import { silentLogger } from "../common/logger.ts";
import { codecs } from "../generated/records.ts";
import type { LeaderSession } from "../ha/leader-session.ts";
import { MemoryCoordinator, type MemoryHaBackend } from "../ha/memory/index.ts";
import {
  type TaskManagerRegistryContents,
  TaskManagerRegistryStore,
} from "../ha/stores/task-manager-registry-store.ts";
import { RegistryWriter } from "./registry-writer.ts";
import { testSession } from "./testing-leader.ts";

let coordinator: MemoryCoordinator | undefined;
const open: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
  coordinator?.close();
  coordinator = undefined;
});

async function session(): Promise<{ backend: MemoryHaBackend; session: LeaderSession }> {
  coordinator = new MemoryCoordinator();
  const s = await testSession(coordinator);
  open.push(s);
  return s;
}

function writer(
  s: { backend: MemoryHaBackend; session: LeaderSession },
  read: TaskManagerRegistryContents | undefined,
  leasesEndAt = 0,
) {
  const events = new RecordedEvents();
  const w = new RegistryWriter({
    session: s.session,
    registry: new TaskManagerRegistryStore(s.backend.store),
    read,
    taskLeaseMs: 200,
    leasesEndAt,
    signal: s.session.signal,
    events: events.sink,
    logger: silentLogger,
  });
  w.start();
  return { w, events };
}

const record = async (s: { backend: MemoryHaBackend }) => {
  const entry = await s.backend.store.get("taskmanagers");
  return entry && codecs.TaskManagerRegistry.decode(entry.value);
};

describe("RegistryWriter", () => {
  it("records its longer lease before deploying to a TaskManager that is listed already", async () => {
    const s = await session();
    const registry = new TaskManagerRegistryStore(s.backend.store);
    await registry.add(["tm-1"], 100, s.session);
    const { w } = writer(s, await registry.get());
    await w.ensureListed("tm-1");
    expect(await record(s)).toMatchObject({ taskmanagerIds: ["tm-1"], taskLeaseMs: 200 });
  });

  it("writes nothing for a listed TaskManager when the recorded lease is as long", async () => {
    const s = await session();
    const registry = new TaskManagerRegistryStore(s.backend.store);
    await registry.add(["tm-1"], 500, s.session);
    const version = (await s.backend.store.get("taskmanagers"))!.version;
    const { w } = writer(s, await registry.get());
    await w.ensureListed("tm-1");
    expect((await s.backend.store.get("taskmanagers"))!.version).toBe(version);
    await w.ensureListed("tm-2");
    expect(await record(s)).toMatchObject({ taskmanagerIds: ["tm-1", "tm-2"], taskLeaseMs: 500 });
  });

  it("overwrites a corrupt record once the leases ran out; listings wait for it", async () => {
    const s = await session();
    await s.backend.store.create("taskmanagers", new Uint8Array([0xff, 0xff]), s.session);
    const resetAt = monotonicNow() + 100;
    const { w, events } = writer(s, undefined, resetAt);
    await w.ensureListed("tm-1");
    expect(monotonicNow()).toBeGreaterThanOrEqual(resetAt - 1);
    expect(events.of("registry-reset")).toEqual([
      { event: "registry-reset", epoch: s.session.epoch, taskmanagers: [] },
    ]);
    expect(await record(s)).toMatchObject({ taskmanagerIds: ["tm-1"], taskLeaseMs: 200 });
  });
});
