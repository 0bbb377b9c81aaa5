import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { CorruptRecordError } from "../common/errors.ts";
import type { OperatorSubtaskState } from "../generated/records.ts";
import { FileBlobStore } from "../storage/blob-store.ts";
import { keyGroupRange } from "./key-groups.ts";
import { KeyedStateBackend } from "./keyed-state.ts";
import { OperatorStateStore } from "./operator-state.ts";
import { encodeState, restoreOperatorState, writeOperatorState } from "./snapshot.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function blobStore(): Promise<FileBlobStore> {
  const dir = await mkdtemp(join(tmpdir(), "vigil-state-test-"));
  dirs.push(dir);
  return new FileBlobStore(pathToFileURL(dir).href);
}

const KEYS = 500;

/** Writes the snapshots of `parallelism` subtasks, each counting the keys it owns (value = key * 10). */
async function snapshotAll(blobs: FileBlobStore, parallelism: number): Promise<OperatorSubtaskState[]> {
  const backends = Array.from(
    { length: parallelism },
    (_, i) => new KeyedStateBackend(keyGroupRange(i, parallelism)),
  );
  const states: OperatorSubtaskState[] = [];
  for (let key = 0; key < KEYS; key++) {
    const owner = backends.find((b) => {
      try {
        b.setCurrentKey(key);
        return true;
      } catch {
        return false;
      }
    })!;
    owner.state<number>("count").update(key * 10);
    owner.state<bigint>("big").update(BigInt(key));
  }
  for (let i = 0; i < parallelism; i++) {
    const operator = new OperatorStateStore();
    operator.list<string>("splits").update([`s${i}a`, `s${i}b`]);
    operator.list<string>("txns", "union").update([`t${i}`]);
    states.push(await writeOperatorState(blobs, "op", i, parallelism, encodeState(backends[i]!, operator)));
  }
  return states;
}

describe("state snapshots", () => {
  it("restore a subtask's keyed and operator state with the same parallelism", async () => {
    const blobs = await blobStore();
    const states = await snapshotAll(blobs, 2);
    const restored = await restoreOperatorState(blobs, states, {
      operatorUid: "op",
      subtask: 1,
      parallelism: 2,
    });
    expect(restored.restored).toBe(true);
    expect(restored.previousParallelism).toBe(2);
    expect(restored.operator.list("splits").get()).toEqual(["s1a", "s1b"]);
    expect(restored.operator.list("txns", "union").get()).toEqual(["t1"]);
    let owned = 0;
    for (let key = 0; key < KEYS; key++) {
      try {
        restored.keyed.setCurrentKey(key);
      } catch {
        continue;
      }
      owned++;
      expect(restored.keyed.state<number>("count").value()).toBe(key * 10);
      expect(restored.keyed.state<bigint>("big").value()).toBe(BigInt(key));
    }
    expect(owned).toBeGreaterThan(0);
  });

  it.each([
    [2, 3],
    [3, 1],
    [1, 4],
  ])("rescale from parallelism %i to %i: every key's state lands at its new owner", async (from, to) => {
    const blobs = await blobStore();
    const states = await snapshotAll(blobs, from);
    const found = new Map<number, number>();
    const splits: string[] = [];
    for (let i = 0; i < to; i++) {
      const r = await restoreOperatorState(blobs, states, { operatorUid: "op", subtask: i, parallelism: to });
      expect(r.previousParallelism).toBe(from);
      splits.push(...r.operator.list<string>("splits").get());
      // Union lists: every new subtask gets all old items.
      expect(r.operator.list<string>("txns", "union").get()).toEqual(
        Array.from({ length: from }, (_, j) => `t${j}`),
      );
      for (let key = 0; key < KEYS; key++) {
        try {
          r.keyed.setCurrentKey(key);
        } catch {
          continue;
        }
        const value = r.keyed.state<number>("count").value();
        expect(value).toBe(key * 10);
        expect(found.has(key)).toBe(false);
        found.set(key, i);
      }
    }
    expect(found.size).toBe(KEYS);
    // Round-robin lists: every old item exactly once, spread evenly.
    expect(splits.sort()).toEqual(
      Array.from({ length: from }, (_, j) => [`s${j}a`, `s${j}b`])
        .flat()
        .sort(),
    );
  });

  it("refuses a rescale that misses an old subtask, and a corrupted blob", async () => {
    const blobs = await blobStore();
    const states = await snapshotAll(blobs, 3);
    await expect(
      restoreOperatorState(blobs, states.slice(0, 2), { operatorUid: "op", subtask: 0, parallelism: 2 }),
    ).rejects.toThrow(/needs the state of every old subtask; subtask 2 is missing/);
    const ref = states[0]!.state!;
    await writeFile(fileURLToPath(ref.uri), "garbage");
    await expect(
      restoreOperatorState(blobs, states, { operatorUid: "op", subtask: 0, parallelism: 3 }),
    ).rejects.toBeInstanceOf(CorruptRecordError);
  });

  it("writes no blob for an operator without state, and restores nothing for an unknown operator", async () => {
    const blobs = await blobStore();
    const empty = await writeOperatorState(
      blobs,
      "map",
      0,
      1,
      encodeState(new KeyedStateBackend(keyGroupRange(0, 1)), new OperatorStateStore()),
    );
    expect(empty.state).toBeUndefined();
    const fresh = await restoreOperatorState(blobs, [], { operatorUid: "new", subtask: 0, parallelism: 1 });
    expect(fresh.restored).toBe(false);
    const restoredEmpty = await restoreOperatorState(blobs, [empty], {
      operatorUid: "map",
      subtask: 0,
      parallelism: 1,
    });
    expect(restoredEmpty.restored).toBe(true);
  });

  it("lets a non-keyed operator run above the max parallelism, refusing keys there", async () => {
    const blobs = await blobStore();
    const r = await restoreOperatorState(blobs, [], { operatorUid: "map", subtask: 199, parallelism: 200 });
    expect(() => r.keyed.setCurrentKey(1)).toThrow(/at most the max parallelism 128/);
  });

  it("refuses a key of a group the subtask does not own", () => {
    const backend = new KeyedStateBackend(keyGroupRange(0, 2));
    let refused = 0;
    for (let key = 0; key < 50; key++) {
      try {
        backend.setCurrentKey(key);
      } catch (e: unknown) {
        expect(String(e)).toMatch(/which this subtask does not own \(it owns 0\.\.63\)/);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(0);
  });
});
