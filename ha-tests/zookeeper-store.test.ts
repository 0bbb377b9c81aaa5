// ZooKeeper specifics of the fenced state-handle store (the shared behaviour is in zookeeper-contract.test.ts):
// directory znodes are not keys, empty parents are cleaned up, the largest value fits, watches survive a
// server restart with a resync.
import { type Client, createClient, type Stat } from "node-zookeeper-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RecordTooLargeError } from "../src/common/errors.ts";
import { silentLogger } from "../src/common/logger.ts";
import { compileHaConfig } from "../src/config/ha-config.ts";
import type { HaBackend } from "../src/ha/backend.ts";
import type { LeaderElectionDriver } from "../src/ha/election-driver.ts";
import { clusterRoot } from "../src/ha/keys.ts";
import type { LeaderSession } from "../src/ha/leader-session.ts";
import type { StoreChange } from "../src/ha/state-handle-store.ts";
import { waitUntil } from "../src/ha/testing.ts";
import { createZooKeeperBackend, ZOOKEEPER_MAX_VALUE_BYTES } from "../src/ha/zookeeper/index.ts";
import { startZooKeeper } from "./harness/servers.ts";

const SESSION_MS = 2_000;
let zk: Awaited<ReturnType<typeof startZooKeeper>>;
let counter = 0;

beforeAll(async () => {
  zk = await startZooKeeper({ servers: 1, tickTimeMs: 1_000 });
});
afterAll(async () => {
  await zk?.stop();
});

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("ZooKeeper state-handle store", () => {
  const opened: Array<HaBackend | LeaderElectionDriver> = [];
  let raw: Client | undefined;
  afterEach(async () => {
    for (const o of opened.splice(0).reverse()) await o.close();
    raw?.close();
    raw = undefined;
  });

  /** A connected backend whose only contender leads; its store and session. */
  async function leader(): Promise<{
    backend: HaBackend;
    session: LeaderSession;
    clusterId: string;
    current: () => LeaderSession | undefined;
  }> {
    const clusterId = `zk-store-${process.pid}-${++counter}`;
    const backend = createZooKeeperBackend(
      compileHaConfig({
        backend: "zookeeper",
        endpoints: zk.endpoints,
        clusterId,
        ttlMs: SESSION_MS,
        requestTimeoutMs: 1_000,
        connectTimeoutMs: 3_000,
      }),
      silentLogger,
    );
    opened.push(backend);
    await backend.connect();
    const driver = backend.createElectionDriver("jobmanager");
    opened.push(driver);
    let session: LeaderSession | undefined;
    await driver.start({
      onGrantLeadership: (s) => {
        session = s;
      },
      onRevokeLeadership: (s) => {
        if (session === s) session = undefined;
      },
      onLeaderInformationChange: () => {},
      onError: () => {},
    });
    await waitUntil(() => session !== undefined, 5_000, "leadership");
    return {
      backend,
      session: session!,
      clusterId,
      current: () => (session?.isValid() ? session : undefined),
    };
  }

  async function exists(path: string): Promise<boolean> {
    if (!raw) {
      const c = createClient(zk.endpoints.join(","), { sessionTimeout: SESSION_MS });
      const connected = new Promise<void>((resolve) => c.once("connected", () => resolve()));
      c.connect();
      await connected;
      raw = c;
    }
    const client = raw;
    return new Promise((resolve, reject) =>
      client.exists(path, (e, stat: Stat | null) => (e ? reject(e) : resolve(stat !== null))),
    );
  }

  it("parent directories are not keys; a directory becomes a key on create; empty parents are removed", async () => {
    const { backend, session, clusterId } = await leader();
    const s = backend.store;
    const root = clusterRoot(clusterId);
    await s.create("jobs/j1/checkpoints/001", bytes("c1"), session);
    expect(await s.get("jobs/j1")).toBeUndefined();
    expect(await s.list("jobs")).toEqual([]);
    expect((await s.list("jobs/j1/checkpoints")).map((e) => e.key)).toEqual(["jobs/j1/checkpoints/001"]);

    // Turning the directory znode jobs/j1 into a key keeps its children.
    const v = await s.create("jobs/j1", bytes("job"), session);
    expect((await s.list("jobs")).map((e) => [e.key, e.version])).toEqual([["jobs/j1", v]]);

    // Removing the last checkpoint removes the empty checkpoints directory, but not the key jobs/j1.
    expect(await s.remove("jobs/j1/checkpoints/001", session)).toBe(true);
    const gone = `${root}/jobs/j1/checkpoints`;
    for (let i = 0; i < 100 && (await exists(gone)); i++) await new Promise((r) => setTimeout(r, 10));
    expect(await exists(gone)).toBe(false);
    expect((await s.get("jobs/j1"))?.version).toBe(v);

    // Removing the key and then the emptied parents.
    expect(await s.remove("jobs/j1", session, v)).toBe(true);
    expect(await s.remove("jobs/j1", session)).toBe(false);
    for (let i = 0; i < 100 && (await exists(`${root}/jobs`)); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(await exists(`${root}/jobs`)).toBe(false);
    expect(await s.list("jobs")).toEqual([]);
  });

  it("versions are unique per write and increase, also across a remove and re-create", async () => {
    const { backend, session } = await leader();
    const s = backend.store;
    const v1 = await s.create("k", bytes("1"), session);
    const v2 = await s.replace("k", bytes("2"), v1, session);
    await s.remove("k", session);
    const v3 = await s.create("k", bytes("3"), session);
    expect(v2).toBeGreaterThan(v1);
    expect(v3).toBeGreaterThan(v2);
    expect(new Set([v1, v2, v3]).size).toBe(3);
    expect((await s.get("k"))?.version).toBe(v3);
  });

  it("stores a value of exactly maxValueBytes; one byte more is refused before sending", async () => {
    const { backend, session } = await leader();
    const s = backend.store;
    expect(s.maxValueBytes).toBe(ZOOKEEPER_MAX_VALUE_BYTES);
    const big = new Uint8Array(s.maxValueBytes).fill(7);
    await s.create("big/ok", big, session);
    expect((await s.get("big/ok"))?.value.byteLength).toBe(s.maxValueBytes);
    const error = await s
      .create("big/no", new Uint8Array(s.maxValueBytes + 1), session)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecordTooLargeError);
    expect((error as Error).message).toContain("big/no");
    expect(await s.get("big/no")).toBeUndefined();
  });

  it("watch reports only direct children, resyncs after a server restart and keeps reporting", async () => {
    const { backend, session, current } = await leader();
    const s = backend.store;
    const changes: StoreChange[] = [];
    const w = await s.watch("w", (c) => changes.push(c));
    await s.create("w/deeper/x", bytes("x"), session);
    const v = await s.create("w/a", bytes("a"), session);
    await waitUntil(() => changes.length >= 1, 2_000, "a change");
    expect(changes).toEqual([{ kind: "put", key: "w/a" }]);

    await zk.restart(0);
    await waitUntil(() => changes.some((c) => c.kind === "resync"), 10_000, "a resync");
    // The only contender leads again (in the same session, or after a new campaign if the restart was slow).
    await waitUntil(() => current() !== undefined, 10_000, "leadership after the restart");
    await s.replace("w/a", bytes("b"), v, current()!);
    await waitUntil(
      () => changes.filter((c) => c.kind === "put").length >= 2,
      5_000,
      "a put after the restart",
    );
    expect(changes.at(-1)).toEqual({ kind: "put", key: "w/a" });
    await w.close();
  });
});
