// The fenced state-handle store and the HA stores built on it, the same on every backend.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import {
  AlreadyExistsError,
  CorruptRecordError,
  LeadershipLostError,
  NotFoundError,
  RecordTooLargeError,
  StaleFenceError,
  VersionConflictError,
} from "../../src/common/errors.ts";
import type { JobGraph } from "../../src/generated/records.ts";
import { GuardedLeaderSession, type LeaderSession } from "../../src/ha/leader-session.ts";
import type { StoreChange } from "../../src/ha/state-handle-store.ts";
import { CheckpointIdCounter } from "../../src/ha/stores/checkpoint-id-counter.ts";
import { CompletedCheckpointStore } from "../../src/ha/stores/completed-checkpoint-store.ts";
import { JobGraphStore } from "../../src/ha/stores/job-graph-store.ts";
import { JobResultStore } from "../../src/ha/stores/job-result-store.ts";
import { waitUntil } from "../../src/ha/testing.ts";
import { FileBlobStore } from "../../src/storage/blob-store.ts";
import { type BackendFixture, Closer, freshClusterId, leaderOf } from "./fixture.ts";

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined): string | undefined => (b ? new TextDecoder().decode(b) : undefined);

/** The session of a deposed leader that has not noticed (as after a pause): only the backend can refuse it. */
function unaware(s: LeaderSession): LeaderSession {
  return new GuardedLeaderSession(s.epoch, s.electionKey, Number.POSITIVE_INFINITY, () => {});
}

function graph(jobId: string, vertices = 2, padding = ""): JobGraph {
  return {
    version: 1,
    jobId,
    name: `job ${jobId}`,
    vertices: Array.from({ length: vertices }, (_, i) => ({
      id: `v${i}`,
      name: `vertex ${i}`,
      operatorKind: i === 0 ? "source.sequence" : "sink.file",
      parallelism: 2,
      configJson: JSON.stringify({ i, padding }),
    })),
    edges: vertices > 1 ? [{ source: "v0", target: "v1", partitioning: "PARTITIONING_FORWARD" }] : [],
    configJson: "",
  };
}

export function storeContract(fixture: () => BackendFixture): void {
  describe("fenced state-handle store and HA stores", () => {
    const closer = new Closer();
    const dirs: string[] = [];
    afterEach(async () => {
      await closer.closeAll();
      for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
    });
    async function blobStore(): Promise<{ blobs: FileBlobStore; dir: string }> {
      const dir = await mkdtemp(join(tmpdir(), "vigil-blobs-"));
      dirs.push(dir);
      return { blobs: new FileBlobStore(pathToFileURL(dir).href), dir };
    }

    it("create, get, replace, remove and list keep their contracts and errors", async () => {
      const { backend, session } = await leaderOf(fixture(), closer, freshClusterId("store"), "a");
      const s = backend.store;
      const v1 = await s.create("t/x", bytes("one"), session);
      expect(text((await s.get("t/x"))?.value)).toBe("one");
      expect((await s.get("t/x"))?.version).toBe(v1);
      await expect(s.create("t/x", bytes("again"), session)).rejects.toBeInstanceOf(AlreadyExistsError);
      const v2 = await s.replace("t/x", bytes("two"), v1, session);
      expect(v2).not.toBe(v1);
      await expect(s.replace("t/x", bytes("three"), v1, session)).rejects.toBeInstanceOf(
        VersionConflictError,
      );
      await expect(s.replace("t/missing", bytes("z"), v1, session)).rejects.toBeInstanceOf(NotFoundError);
      await expect(s.remove("t/x", session, v1)).rejects.toBeInstanceOf(VersionConflictError);
      expect(text((await s.get("t/x"))?.value)).toBe("two");
      await s.create("t/a", bytes("a"), session);
      await s.create("t/b/deep", bytes("deep"), session);
      expect((await s.list("t")).map((e) => [e.key, text(e.value)])).toEqual([
        ["t/a", "a"],
        ["t/x", "two"],
      ]);
      expect(await s.list("nothing-here")).toEqual([]);
      expect(await s.remove("t/x", session, v2)).toBe(true);
      expect(await s.get("t/x")).toBeUndefined();
      expect(await s.remove("t/x", session)).toBe(false);
    });

    it("refuses an oversized value before sending it", async () => {
      const { backend, session } = await leaderOf(fixture(), closer, freshClusterId("big"), "a");
      const big = new Uint8Array(backend.store.maxValueBytes + 1);
      const err = await backend.store.create("t/big", big, session).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RecordTooLargeError);
      expect((err as Error).message).toContain("t/big");
      expect(await backend.store.get("t/big")).toBeUndefined();
      await backend.store.create("t/max", new Uint8Array(backend.store.maxValueBytes - 4096), session);
      expect((await backend.store.get("t/max"))?.value.byteLength).toBe(backend.store.maxValueBytes - 4096);
    });

    it("a deposed leader's writes never land: refused locally, and refused by the backend when unaware", async () => {
      const f = fixture();
      const cluster = freshClusterId("fence");
      const a = await leaderOf(f, closer, cluster, "a");
      await a.backend.store.create("t/k", bytes("a1"), a.session);
      await a.service.close();
      const b = await leaderOf(f, closer, cluster, "b");
      expect(b.session.epoch).toBeGreaterThan(a.session.epoch);
      await expect(b.backend.store.create("t/by-a", bytes("x"), a.session)).rejects.toBeInstanceOf(
        LeadershipLostError,
      );
      const zombie = unaware(a.session);
      const entry = await b.backend.store.get("t/k");
      await expect(b.backend.store.create("t/by-a", bytes("x"), zombie)).rejects.toBeInstanceOf(
        StaleFenceError,
      );
      await expect(
        b.backend.store.replace("t/k", bytes("a2"), entry!.version, zombie),
      ).rejects.toBeInstanceOf(StaleFenceError);
      await expect(b.backend.store.remove("t/k", zombie)).rejects.toBeInstanceOf(StaleFenceError);
      expect(await b.backend.store.get("t/by-a")).toBeUndefined();
      expect(text((await b.backend.store.get("t/k"))?.value)).toBe("a1");
      await b.backend.store.replace("t/k", bytes("b1"), entry!.version, b.session);
      expect(text((await b.backend.store.get("t/k"))?.value)).toBe("b1");
    });

    it("watch reports puts and deletes of direct children", async () => {
      const { backend, session } = await leaderOf(fixture(), closer, freshClusterId("watch"), "a");
      const changes: StoreChange[] = [];
      const w = closer.add(await backend.store.watch("w", (c) => changes.push(c)));
      const v = await backend.store.create("w/one", bytes("1"), session);
      await backend.store.replace("w/one", bytes("2"), v, session);
      await backend.store.remove("w/one", session);
      await waitUntil(() => changes.filter((c) => c.kind !== "resync").length >= 3, 5_000, "three changes");
      expect(changes.filter((c) => c.kind !== "resync")).toEqual([
        { kind: "put", key: "w/one" },
        { kind: "put", key: "w/one" },
        { kind: "delete", key: "w/one" },
      ]);
      await w.close();
    });

    it("JobGraphStore stores, lists, notifies and removes graphs; large ones go through the blob store", async () => {
      const { backend, session } = await leaderOf(fixture(), closer, freshClusterId("jobs"), "a");
      const { blobs, dir } = await blobStore();
      const store = new JobGraphStore(backend.store, blobs);
      const added: string[] = [];
      const removed: string[] = [];
      closer.add(
        await store.watch({
          onAddedJobGraph: (j) => added.push(j),
          onRemovedJobGraph: (j) => removed.push(j),
          onResync: () => {},
        }),
      );
      await store.put(graph("j1"), session);
      await store.put(graph("j1"), session); // idempotent
      const large = graph("j2", 2, "x".repeat(backend.store.maxValueBytes));
      await store.put(large, session);
      expect(await store.jobIds()).toEqual(["j1", "j2"]);
      expect(await store.get("j1")).toEqual(graph("j1"));
      expect(await store.get("j2")).toEqual(large);
      expect(await readdir(join(dir, "blobs"))).toHaveLength(1);
      expect(await store.get("nope")).toBeUndefined();
      expect(await store.remove("j2", session)).toBe(true);
      expect(await readdir(join(dir, "blobs"))).toHaveLength(0);
      expect(await store.remove("j2", session)).toBe(false);
      await waitUntil(() => removed.includes("j2") && added.includes("j2"), 5_000, "notifications");
      expect(added).toContain("j1");
    });

    it("a corrupt record is an error that names its key, never skipped", async () => {
      const { backend, session } = await leaderOf(fixture(), closer, freshClusterId("corrupt"), "a");
      await backend.store.create("jobgraphs/bad", Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff]), session);
      const store = new JobGraphStore(backend.store, undefined);
      const err = await store.get("bad").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CorruptRecordError);
      expect((err as Error).message).toContain("jobgraphs/bad");
      await backend.store.create(
        "jobs/j/checkpoints/00000000000000000001",
        bytes("not protobuf \u0000\u0001"),
        session,
      );
      await expect(
        new CompletedCheckpointStore(backend.store, undefined, "j", 3).latest(),
      ).rejects.toBeInstanceOf(CorruptRecordError);
    });

    it("CompletedCheckpointStore keeps the newest N and removes subsumed pointers, then their metadata", async () => {
      const { backend, session } = await leaderOf(fixture(), closer, freshClusterId("ckpt"), "a");
      const { blobs } = await blobStore();
      const store = new CompletedCheckpointStore(backend.store, blobs, "job-1", 2);
      expect(await store.latest()).toBeUndefined();
      const metas = [];
      for (let id = 1n; id <= 4n; id++) {
        const metadata = await blobs.put("ckpt", bytes(`meta ${id}`));
        metas.push(metadata);
        const subsumed = await store.add(
          { checkpointId: id, metadata, completedAtMs: 1000n + id, savepoint: false },
          session,
        );
        expect(subsumed.map((c) => c.checkpointId)).toEqual(id > 2n ? [id - 2n] : []);
      }
      expect((await store.all()).map((c) => c.checkpointId)).toEqual([3n, 4n]);
      expect((await store.latest())?.checkpointId).toBe(4n);
      expect(await blobs.list()).toHaveLength(2);
      await expect(
        store.add({ checkpointId: 4n, completedAtMs: 0n, savepoint: false }, session),
      ).rejects.toBeInstanceOf(AlreadyExistsError);
      await store.removeAll(session);
      expect(await store.all()).toEqual([]);
      expect(await blobs.list()).toEqual([]);
    });

    it("the checkpoint-id counter only increases across leaders; a deposed leader racing the current one never succeeds", async () => {
      const f = fixture();
      const cluster = freshClusterId("counter");
      const a = await leaderOf(f, closer, cluster, "a");
      const counterA = new CheckpointIdCounter(a.backend.store, "job");
      expect(await counterA.getAndIncrement(a.session)).toBe(1n);
      expect(await counterA.getAndIncrement(a.session)).toBe(2n);
      await a.service.close();
      const b = await leaderOf(f, closer, cluster, "b");
      const counterB = new CheckpointIdCounter(b.backend.store, "job");
      const zombie = unaware(a.session);
      const ids: bigint[] = [];
      const refused: unknown[] = [];
      await Promise.all([
        (async () => {
          for (let i = 0; i < 10; i++) ids.push(await counterB.getAndIncrement(b.session));
        })(),
        (async () => {
          for (let i = 0; i < 10; i++)
            refused.push(await counterA.getAndIncrement(zombie).catch((e: unknown) => e));
        })(),
      ]);
      expect(ids).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(i + 3)));
      expect(refused.every((e) => e instanceof StaleFenceError)).toBe(true);
      expect(await counterB.get()).toBe(13n);
      expect(await counterB.raiseTo(100n, b.session)).toBe(100n);
      expect(await counterB.raiseTo(50n, b.session)).toBe(100n);
    });

    it("JobResultStore records dirty results and marks them clean", async () => {
      const { backend, session } = await leaderOf(fixture(), closer, freshClusterId("results"), "a");
      const store = new JobResultStore(backend.store);
      expect(await store.has("j")).toBe(false);
      await store.createDirty(
        { jobId: "j", status: "JOB_STATUS_FINISHED", error: "", finishedAtMs: 7n },
        session,
      );
      await expect(
        store.createDirty(
          { jobId: "j", status: "JOB_STATUS_FAILED", error: "again", finishedAtMs: 8n },
          session,
        ),
      ).rejects.toBeInstanceOf(AlreadyExistsError);
      expect((await store.listDirty()).map((r) => r.jobId)).toEqual(["j"]);
      await store.markClean("j", session);
      await store.markClean("j", session);
      expect(await store.get("j")).toEqual({
        jobId: "j",
        status: "JOB_STATUS_FINISHED",
        clean: true,
        error: "",
        finishedAtMs: 7n,
      });
      expect(await store.listDirty()).toEqual([]);
      await expect(store.markClean("other", session)).rejects.toBeInstanceOf(NotFoundError);
    });
  });
}
