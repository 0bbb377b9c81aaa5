import { afterEach, describe, expect, it } from "vitest";
import { leaderOn, zombie } from "../checkpoint/testing.ts";
import { StaleFenceError } from "../common/errors.ts";
import { RecordedEvents } from "../common/events.ts";
import { MemoryCoordinator } from "./memory/index.ts";
import { ObservedStateHandleStore } from "./observed-store.ts";

let memory: MemoryCoordinator | undefined;
afterEach(() => memory?.close());

describe("ObservedStateHandleStore", () => {
  it("reports each fenced write with its epoch, and a stale writer's refused write", async () => {
    memory = new MemoryCoordinator();
    const a = await leaderOn(memory, "jm-a");
    const events = new RecordedEvents();
    const store = new ObservedStateHandleStore(a.backend.store, events.sink, true);
    const version = await store.create("jobgraphs/j1", new Uint8Array([1]), a.session);
    await store.replace("jobgraphs/j1", new Uint8Array([2]), version, a.session);
    expect(await store.remove("jobgraphs/j1", a.session)).toBe(true);
    expect(await store.remove("jobgraphs/j1", a.session)).toBe(false); // nothing removed: no event
    expect(events.of("store-write").map((e) => [e.key, e.epoch, e.op])).toEqual([
      ["jobgraphs/j1", a.session.epoch, undefined],
      ["jobgraphs/j1", a.session.epoch, undefined],
      ["jobgraphs/j1", a.session.epoch, "remove"],
    ]);
    expect(events.of("store-write")[0]!.revision).toBe(version);

    const deposed = zombie(a.session);
    await a.resign();
    const b = await leaderOn(memory, "jm-b");
    await expect(store.create("jobgraphs/j2", new Uint8Array([1]), deposed)).rejects.toBeInstanceOf(
      StaleFenceError,
    );
    expect(events.of("store-write-refused")).toEqual([
      expect.objectContaining({ key: "jobgraphs/j2", epoch: a.session.epoch }),
    ]);
    expect(events.of("store-write")).toHaveLength(3);
    await a.close();
    await b.close();
  });
});
