// The ZooKeeper election and retrieval drivers against a real ZooKeeper 3.8 server: one leader among three,
// graceful handover, the zombie guard under a frozen server, fencing of a deposed leader, leader records.
import { type Client, createClient } from "node-zookeeper-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { monotonicNow } from "../src/common/clock.ts";
import {
  BackendUnavailableError,
  CorruptRecordError,
  LeadershipLostError,
  StaleFenceError,
} from "../src/common/errors.ts";
import { silentLogger } from "../src/common/logger.ts";
import { compileHaConfig, type HaConfig } from "../src/config/ha-config.ts";
import type { HaBackend } from "../src/ha/backend.ts";
import type { LeaderElectionDriver, LeaderInfo } from "../src/ha/election-driver.ts";
import { leaderKey } from "../src/ha/keys.ts";
import { GuardedLeaderSession } from "../src/ha/leader-session.ts";
import type { LeaderRetrievalDriver } from "../src/ha/retrieval-driver.ts";
import { waitUntil } from "../src/ha/testing.ts";
import { createZooKeeperBackend } from "../src/ha/zookeeper/index.ts";
import { DriverRecorder } from "./harness/driver-recorder.ts";
import { clusterRoles, startZooKeeper } from "./harness/servers.ts";

const SESSION_MS = 2_000;
let zk: Awaited<ReturnType<typeof startZooKeeper>>;
let clusterCounter = 0;
const cluster = (): string => `zk-elect-${process.pid}-${++clusterCounter}`;

beforeAll(async () => {
  zk = await startZooKeeper({ servers: 1, tickTimeMs: 1_000 });
});
afterAll(async () => {
  await zk?.stop();
});

function config(clusterId: string, overrides: Partial<HaConfig> = {}): HaConfig {
  return {
    ...compileHaConfig({
      backend: "zookeeper",
      endpoints: zk.endpoints,
      clusterId,
      ttlMs: SESSION_MS,
      requestTimeoutMs: 500,
      connectTimeoutMs: 3_000,
    }),
    ...overrides,
  };
}

/** A raw client, to look at and tamper with znodes behind the backend's back. */
async function rawClient(): Promise<Client> {
  const c = createClient(zk.endpoints.join(","), { sessionTimeout: SESSION_MS });
  const connected = new Promise<void>((resolve) => c.once("connected", () => resolve()));
  c.connect();
  await connected;
  return c;
}

function call<T>(f: (done: (e: unknown, v?: T) => void) => void): Promise<T | undefined> {
  return new Promise((resolve, reject) => f((e, v) => (e ? reject(e) : resolve(v))));
}

describe("ZooKeeper election driver", () => {
  const backends: HaBackend[] = [];
  const drivers: Array<LeaderElectionDriver | LeaderRetrievalDriver> = [];
  const raws: Client[] = [];
  afterEach(async () => {
    for (const d of drivers.splice(0)) await d.close();
    for (const b of backends.splice(0)) await b.close();
    for (const r of raws.splice(0)) r.close();
  });

  async function backend(clusterId: string): Promise<HaBackend> {
    const b = createZooKeeperBackend(config(clusterId), silentLogger);
    backends.push(b);
    await b.connect();
    return b;
  }

  async function contenders(clusterId: string, names: string[]): Promise<DriverRecorder[]> {
    const out: DriverRecorder[] = [];
    for (const name of names) {
      const driver = (await backend(clusterId)).createElectionDriver("jobmanager");
      drivers.push(driver);
      const rec = new DriverRecorder(name, driver);
      await driver.start(rec);
      out.push(rec);
    }
    return out;
  }

  it("grants exactly one of three contenders; closing the leader hands over in under a second", async () => {
    const all = await contenders(cluster(), ["a", "b", "c"]);
    await waitUntil(() => all.some((r) => r.leading), 5_000, "a leader");
    await waitUntil(
      () => all.every((r) => r.of("info").at(-1)?.info !== undefined),
      5_000,
      "all to see the leader information",
    );
    expect(all.filter((r) => r.of("granted").length > 0)).toHaveLength(1);
    const first = all.find((r) => r.leading)!;
    const epoch1 = first.session!.epoch;
    expect(first.session!.electionKey).toMatch(
      /\/elections\/jobmanager\/latch\/_c_[0-9a-f-]+-1-latch-\d{10}$/,
    );
    expect(first.of("info").at(-1)?.info).toMatchObject({ name: first.name, epoch: epoch1 });

    const closedAt = monotonicNow();
    await first.driver.close();
    const closeMs = monotonicNow() - closedAt;
    await waitUntil(() => all.some((r) => r !== first && r.leading), 2_000, "a second leader");
    const second = all.find((r) => r !== first && r.leading)!;
    const handoverMs = second.of("granted")[0]!.at - closedAt;
    console.log(
      `zookeeper graceful handover: close() took ${closeMs.toFixed(1)} ms, new leader after ${handoverMs.toFixed(1)} ms`,
    );
    expect(handoverMs).toBeLessThan(1_000);
    expect(second.session!.epoch).toBeGreaterThan(epoch1);
    expect(first.of("revoked").map((e) => e.reason)).toEqual(["closed: resigned"]);
    expect(all.filter((r) => r.leading)).toHaveLength(1);
    await waitUntil(
      () => all.every((r) => r === first || r.of("info").at(-1)?.info?.name === second.name),
      2_000,
      "the standbys to see the new leader",
    );
    await first.driver.close(); // idempotent
  });

  it("revokes itself by its own deadline while ZooKeeper is frozen, and a leader returns after", async () => {
    const [a, b] = await contenders(cluster(), ["a", "b"]);
    await waitUntil(() => a!.leading || b!.leading, 5_000, "a leader");
    const leader = a!.leading ? a! : b!;
    const epoch1 = leader.session!.epoch;
    const pausedAt = monotonicNow();
    await zk.pause(0);
    try {
      await waitUntil(
        () => leader.of("revoked").length > 0,
        SESSION_MS + 1_000,
        "the leader to revoke itself",
      );
      // Stay frozen past the session timeout, so that the server expires the sessions when it resumes.
      await waitUntil(() => monotonicNow() - pausedAt > SESSION_MS + 1_000, SESSION_MS + 2_000);
    } finally {
      await zk.resume(0);
    }
    const revoked = leader.of("revoked")[0]!;
    const selfRevokeMs = revoked.at - pausedAt;
    console.log(
      `zookeeper frozen: leader revoked itself ${selfRevokeMs.toFixed(0)} ms after SIGSTOP (session ${SESSION_MS} ms)`,
    );
    // The zombie guard, not any event of the library, ended the session, within one session timeout.
    expect(revoked.reason).toMatch(/zombie guard/);
    expect(selfRevokeMs).toBeLessThanOrEqual(SESSION_MS);
    const resumedAt = monotonicNow();
    await waitUntil(() => a!.leading || b!.leading, 10_000, "a leader after resume");
    console.log(
      `zookeeper frozen: a leader again ${(monotonicNow() - resumedAt).toFixed(0)} ms after SIGCONT`,
    );
    const now = (a!.leading ? a : b)!.session!;
    expect(now.epoch).toBeGreaterThan(epoch1);
    expect([a!, b!].filter((r) => r.leading)).toHaveLength(1);
  });

  it("a leader connected to a follower cut off from the ZooKeeper leader revokes within its session timeout", async () => {
    // The follower keeps answering local reads (exists, getData) for syncLimit × tickTime = 5 s after it loses
    // the ZooKeeper leader; only syncs and writes go through the leader. A proof of life from local reads
    // would keep this contender leader for those 5 s, long after the majority side could have expired it.
    const ensemble = await startZooKeeper({ servers: 3, tickTimeMs: 1_000 });
    let paused: number | undefined;
    let raw: Client | undefined;
    try {
      const roles = await clusterRoles(ensemble);
      const zkLeader = roles.indexOf("leader");
      const follower = roles.indexOf("follower");
      expect(zkLeader).toBeGreaterThanOrEqual(0);
      expect(follower).toBeGreaterThanOrEqual(0);
      const endpoint = ensemble.endpoints[follower]!;
      const b = createZooKeeperBackend({ ...config(cluster()), endpoints: [endpoint] }, silentLogger);
      backends.push(b);
      await b.connect();
      const driver = b.createElectionDriver("jobmanager");
      drivers.push(driver);
      const leader = new DriverRecorder("a", driver);
      await driver.start(leader);
      await waitUntil(() => leader.leading, 5_000, "a to lead");
      // A second client on the same follower, to show that local reads are still answered.
      raw = createClient(endpoint, { sessionTimeout: 20_000 });
      const connected = new Promise<void>((resolve) => raw!.once("connected", () => resolve()));
      raw.connect();
      await connected;

      const pausedAt = monotonicNow();
      ensemble.pause(zkLeader);
      paused = zkLeader;
      await waitUntil(
        () => leader.of("revoked").length > 0,
        SESSION_MS + 1_000,
        "the leader to revoke itself",
      );
      const revoked = leader.of("revoked")[0]!;
      const selfRevokeMs = revoked.at - pausedAt;
      // Past the session timeout, the follower still answers a local read within a second.
      await waitUntil(() => monotonicNow() - pausedAt > SESSION_MS + 500, SESSION_MS + 1_500);
      const readAt = monotonicNow();
      const answered = await Promise.race([
        call<unknown>((done) => raw!.exists("/", done)).then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1_000)),
      ]);
      const readMs = monotonicNow() - pausedAt;
      console.log(
        `zookeeper follower cut off: leader revoked itself ${selfRevokeMs.toFixed(0)} ms after the ZooKeeper leader froze (session ${SESSION_MS} ms); the follower still answered a read ${readMs.toFixed(0)} ms after`,
      );
      expect(revoked.reason).toMatch(/zombie guard/);
      expect(selfRevokeMs).toBeLessThanOrEqual(SESSION_MS + 250);
      expect(answered).toBe(true);
      expect(readAt - pausedAt).toBeGreaterThan(selfRevokeMs + 500);
      expect(leader.leading).toBe(false);
    } finally {
      if (paused !== undefined) ensemble.resume(paused);
      raw?.close();
      for (const d of drivers.splice(0)) await d.close();
      for (const b of backends.splice(0)) await b.close();
      await ensemble.stop();
    }
  }, 30_000);

  it("fences a deposed leader: its store writes never land", async () => {
    const id = cluster();
    const [a, b] = await contenders(id, ["a", "b"]);
    await waitUntil(() => a!.leading, 5_000, "a to lead");
    const deposed = a!.session!;
    const store = backends[0]!.store;
    await store.create("fence/before", new Uint8Array([1]), deposed);
    await a!.driver.close();
    await waitUntil(() => b!.leading, 2_000, "b to lead");
    // The real, revoked session is refused locally: nothing is sent.
    await expect(store.create("fence/x", new Uint8Array([1]), deposed)).rejects.toBeInstanceOf(
      LeadershipLostError,
    );
    await expect(
      a!.driver.publishLeaderInformation(deposed, { name: "a", address: "a.example:7000" }),
    ).rejects.toBeInstanceOf(LeadershipLostError);
    // A deposed leader that has not noticed yet (a paused process): ZooKeeper refuses the write.
    const unaware = new GuardedLeaderSession(
      deposed.epoch,
      deposed.electionKey,
      Number.POSITIVE_INFINITY,
      () => {},
    );
    await expect(store.create("fence/x", new Uint8Array([1]), unaware)).rejects.toBeInstanceOf(
      StaleFenceError,
    );
    const before = await store.get("fence/before");
    await expect(
      store.replace("fence/before", new Uint8Array([2]), before!.version, unaware),
    ).rejects.toBeInstanceOf(StaleFenceError);
    await expect(store.remove("fence/before", unaware)).rejects.toBeInstanceOf(StaleFenceError);
    await expect(store.remove("fence/never-was", unaware)).rejects.toBeInstanceOf(StaleFenceError);
    expect(await store.get("fence/x")).toBeUndefined();
    expect((await store.get("fence/before"))?.value).toEqual(new Uint8Array([1]));
    // The current leader's writes land, through any client of the cluster.
    await store.create("fence/x", new Uint8Array([3]), b!.session!);
    expect((await store.get("fence/x"))?.value).toEqual(new Uint8Array([3]));
  });

  it("retrieval follows the leader record; a corrupt record is an error naming its path, and following goes on", async () => {
    const id = cluster();
    const retrieval = (await backend(id)).createRetrievalDriver("jobmanager");
    drivers.push(retrieval);
    const seen: Array<LeaderInfo | undefined> = [];
    const errors: Error[] = [];
    await retrieval.start({ onLeaderInformation: (i) => seen.push(i), onError: (e) => errors.push(e) });
    expect(seen).toEqual([undefined]);

    const [a] = await contenders(id, ["a"]);
    await waitUntil(() => seen.at(-1)?.name === "a", 5_000, "retrieval to see a");
    expect(seen.at(-1)).toMatchObject({ address: "a.example:7000", epoch: a!.session!.epoch });

    // Someone writes garbage into the leader znode.
    const raw = await rawClient();
    raws.push(raw);
    const path = leaderKey(id, "jobmanager");
    await call<unknown>((done) => raw.setData(path, Buffer.from([0xff, 0xff, 0xff]), -1, done));
    await waitUntil(() => errors.some((e) => e instanceof CorruptRecordError), 2_000, "a CorruptRecordError");
    const corrupt = errors.find((e) => e instanceof CorruptRecordError)!;
    expect(corrupt.message).toContain(path);
    // The election driver hears it too, and so the service would correct it; here we re-publish by hand.
    await waitUntil(() => a!.of("error").some((e) => e.error instanceof CorruptRecordError), 2_000);
    await a!.driver.publishLeaderInformation(a!.session!, { name: "a", address: "a2.example:7000" });
    await waitUntil(() => seen.at(-1)?.address === "a2.example:7000", 2_000, "the corrected record");

    // The leader resigns: no leader.
    await a!.driver.close();
    await waitUntil(() => seen.at(-1) === undefined, 2_000, "no leader");
    expect(await call<unknown>((done) => raw.exists(path, done))).toBeNull();
  });

  it("a leader whose latch is deleted behind its back revokes; it campaigns again with a new latch", async () => {
    const id = cluster();
    const [a, b] = await contenders(id, ["a", "b"]);
    await waitUntil(() => a!.leading, 5_000, "a to lead");
    const raw = await rawClient();
    raws.push(raw);
    // Deleting the leader's latch behind its back (an operator, a lost session): a revokes, b leads.
    await call<unknown>((done) => raw.remove(a!.session!.electionKey, -1, done));
    await waitUntil(() => b!.leading, 2_000, "b to lead");
    await waitUntil(() => a!.of("revoked").length === 1, 2_000, "a to be revoked");
    expect(a!.of("revoked")[0]!.reason).toMatch(/latch node deleted/);
    expect(a!.leading).toBe(false);
    // a campaigned again behind b, with a new latch: it takes over when b resigns, with a higher epoch.
    const epochB = b!.session!.epoch;
    await b!.driver.close();
    await waitUntil(() => a!.leading, 2_000, "a to lead again");
    expect(a!.session!.epoch).toBeGreaterThan(epochB);
  });

  it("connect() fails with BackendUnavailableError naming the endpoints when nothing answers", async () => {
    const b = createZooKeeperBackend(
      { ...config(cluster()), endpoints: ["127.0.0.1:1"], connectTimeoutMs: 300 },
      silentLogger,
    );
    const started = monotonicNow();
    const error = await b.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as Error).message).toMatch(/127\.0\.0\.1:1.*check that ZooKeeper runs there/);
    expect(monotonicNow() - started).toBeLessThan(1_500);
    await b.close();
  });

  it("latch creation goes through after the server restarts; exactly one leader afterwards", async () => {
    const all = await contenders(cluster(), ["a", "b", "c"]);
    await waitUntil(() => all.some((r) => r.leading), 5_000, "a leader");
    await zk.restart(0);
    await waitUntil(
      () =>
        all.filter((r) => r.leading).length === 1 &&
        all.every((r) => r.of("info").at(-1)?.info !== undefined),
      15_000,
      "one leader after the restart",
    );
    const leader = all.find((r) => r.leading)!;
    await waitUntil(
      () => all.every((r) => r.of("info").at(-1)?.info?.epoch === leader.session?.epoch),
      5_000,
      "everyone to see the current leader",
    );
  });
});
