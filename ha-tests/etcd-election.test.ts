// The etcd election driver against a real etcd: one leader among three, graceful handover, the zombie guard
// under a frozen etcd, fencing of a deposed leader, corrupt leader information, a dead leader's expired lease
// reaped by its successor (and why that is safe on etcd 3.4).
import { Etcd3 } from "etcd3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { monotonicNow, sleep } from "../src/common/clock.ts";
import {
  BackendUnavailableError,
  CorruptRecordError,
  LeadershipLostError,
  StaleFenceError,
} from "../src/common/errors.ts";
import { createLogger, silentLogger } from "../src/common/logger.ts";
import { compileHaConfig, type HaConfig } from "../src/config/ha-config.ts";
import type { HaBackend } from "../src/ha/backend.ts";
import type { LeaderElectionDriver, LeaderInfo } from "../src/ha/election-driver.ts";
import { closeEtcdContext, createEtcdContext } from "../src/ha/etcd/client.ts";
import { EtcdElectionDriver } from "../src/ha/etcd/election-driver.ts";
import { createEtcdBackend } from "../src/ha/etcd/index.ts";
import { electionRoot, leaderKey } from "../src/ha/keys.ts";
import { GuardedLeaderSession } from "../src/ha/leader-session.ts";
import { waitUntil } from "../src/ha/testing.ts";
import { DriverRecorder } from "./harness/driver-recorder.ts";
import { startEtcd } from "./harness/servers.ts";

const TTL_MS = 1_000;
let etcd: Awaited<ReturnType<typeof startEtcd>>;
let clusterCounter = 0;

beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
});
afterAll(async () => {
  await etcd?.stop();
});

function config(clusterId: string, overrides: Partial<HaConfig> = {}): HaConfig {
  return {
    ...compileHaConfig({
      backend: "etcd",
      endpoints: etcd.endpoints.map((e) => e.replace(/^https?:\/\//, "")),
      clusterId,
      ttlMs: TTL_MS,
      requestTimeoutMs: 500,
      connectTimeoutMs: 2_000,
    }),
    ...overrides,
  };
}

describe("etcd election driver", () => {
  const backends: HaBackend[] = [];
  const drivers: LeaderElectionDriver[] = [];
  afterEach(async () => {
    for (const d of drivers.splice(0)) await d.close();
    for (const b of backends.splice(0)) await b.close();
  });

  async function contenders(clusterId: string, names: string[]): Promise<DriverRecorder[]> {
    const out: DriverRecorder[] = [];
    for (const name of names) {
      const backend = createEtcdBackend(config(clusterId), silentLogger);
      backends.push(backend);
      await backend.connect();
      const driver = backend.createElectionDriver("jobmanager");
      drivers.push(driver);
      const rec = new DriverRecorder(name, driver);
      await driver.start(rec);
      out.push(rec);
    }
    return out;
  }

  const cluster = (): string => `etcd-elect-${process.pid}-${++clusterCounter}`;

  it("grants exactly one of three contenders; closing the leader hands over in under a second", async () => {
    const all = await contenders(cluster(), ["a", "b", "c"]);
    await waitUntil(() => all.some((r) => r.leading), 5_000, "a leader");
    // Everybody sees the leader's published information before we count.
    await waitUntil(
      () => all.every((r) => r.of("info").at(-1)?.info !== undefined),
      5_000,
      "all to see the leader information",
    );
    expect(all.filter((r) => r.of("granted").length > 0)).toHaveLength(1);
    const first = all.find((r) => r.leading)!;
    const epoch1 = first.session!.epoch;
    expect(first.of("info").at(-1)?.info).toMatchObject({ name: first.name, epoch: epoch1 });

    const closedAt = monotonicNow();
    await first.driver.close();
    const closeMs = monotonicNow() - closedAt;
    await waitUntil(() => all.some((r) => r !== first && r.leading), 2_000, "a second leader");
    const second = all.find((r) => r !== first && r.leading)!;
    const handoverMs = second.of("granted")[0]!.at - closedAt;
    console.log(
      `etcd graceful handover: close() took ${closeMs.toFixed(1)} ms, new leader after ${handoverMs.toFixed(1)} ms`,
    );
    expect(handoverMs).toBeLessThan(1_000);
    expect(second.session!.epoch).toBeGreaterThan(epoch1);
    expect(first.of("revoked").map((e) => e.reason)).toEqual(["closed: resigned"]);
    expect(all.filter((r) => r.leading)).toHaveLength(1);
    await waitUntil(
      () => all.every((r) => r === first || r.of("info").at(-1)?.info?.name === second.name),
      2_000,
    );
  });

  it("revokes itself by its own deadline while etcd is frozen, and a leader returns after", async () => {
    const [a, b] = await contenders(cluster(), ["a", "b"]);
    await waitUntil(() => a!.leading || b!.leading, 5_000, "a leader");
    const leader = a!.leading ? a! : b!;
    const epoch1 = leader.session!.epoch;
    const pausedAt = monotonicNow();
    etcd.pause(0);
    try {
      await waitUntil(() => leader.of("revoked").length > 0, TTL_MS + 1_000, "the leader to revoke itself");
    } finally {
      etcd.resume(0);
    }
    const revoked = leader.of("revoked")[0]!;
    const selfRevokeMs = revoked.at - pausedAt;
    console.log(
      `etcd frozen: leader revoked itself ${selfRevokeMs.toFixed(0)} ms after SIGSTOP (TTL ${TTL_MS} ms)`,
    );
    // The zombie guard, not any event from etcd or etcd3, ended the session, and within one TTL of the freeze.
    expect(revoked.reason).toMatch(/zombie guard/);
    expect(selfRevokeMs).toBeLessThanOrEqual(TTL_MS);
    await waitUntil(() => a!.leading || b!.leading, 5_000, "a leader after resume");
    const now = (a!.leading ? a : b)!.session!;
    expect(now.epoch).toBeGreaterThan(epoch1);
    expect([a!, b!].filter((r) => r.leading)).toHaveLength(1);
  });

  it("fences a deposed leader: its store writes never land", async () => {
    const [a, b] = await contenders(cluster(), ["a", "b"]);
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
    // A deposed leader that has not noticed yet (paused process): etcd refuses the write.
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
    expect(await store.get("fence/x")).toBeUndefined();
    expect((await store.get("fence/before"))?.version).toBe(before!.version);
    // The new leader writes fine.
    await store.create("fence/x", new Uint8Array([3]), b!.session!);
    // Publishing with the deposed session is refused too.
    await expect(
      b!.driver.publishLeaderInformation(unaware, { name: "a", address: "a.example:7000" }),
    ).rejects.toBeInstanceOf(LeadershipLostError);
  });

  it("reports corrupt leader information as CorruptRecordError naming the key, and keeps following", async () => {
    const id = cluster();
    const key = leaderKey(id, "jobmanager");
    const raw = new Etcd3({ hosts: config(id).endpoints.map((e) => `http://${e}`) });
    try {
      const backend = createEtcdBackend(config(id), silentLogger);
      backends.push(backend);
      const retrieval = backend.createRetrievalDriver("jobmanager");
      drivers.push({ close: () => retrieval.close() } as LeaderElectionDriver);
      const seen: Array<LeaderInfo | undefined> = [];
      const errors: Error[] = [];
      await retrieval.start({ onLeaderInformation: (i) => seen.push(i), onError: (e) => errors.push(e) });
      expect(seen).toEqual([undefined]);
      await raw.put(key).value(Buffer.from([0xff, 0xff, 0xff]));
      await waitUntil(
        () => errors.some((e) => e instanceof CorruptRecordError),
        2_000,
        "a CorruptRecordError",
      );
      expect(errors.find((e) => e instanceof CorruptRecordError)!.message).toContain(key);
      const [a] = await contenders(id, ["a"]);
      await waitUntil(() => seen.at(-1)?.name === "a", 3_000, "a's information after the corrupt record");
      expect(seen.at(-1)?.epoch).toBe(a!.session!.epoch);
    } finally {
      raw.close();
    }
  });

  it("start() and connect() fail with BackendUnavailableError naming the endpoints when nothing answers", async () => {
    const dead = config(cluster(), { endpoints: ["127.0.0.1:1"], connectTimeoutMs: 300 });
    const backend = createEtcdBackend(dead, silentLogger);
    backends.push(backend);
    const err = await backend.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toContain("127.0.0.1:1");
    expect((err as Error).message).toMatch(/check that etcd runs there/);
    const driver = backend.createElectionDriver("jobmanager");
    await expect(driver.start(new DriverRecorder("x", driver))).rejects.toBeInstanceOf(
      BackendUnavailableError,
    );
  });
});

describe("etcd: a dead leader's expired lease, reaped by its successor", () => {
  /** Local time by which etcd has certainly expired a lease granted (and never renewed) by the reply at `at`. */
  const expiredBy = (at: number, ttlSeconds: number): number => at + ttlSeconds * 1000 + 20;

  it("etcd 3.4 cannot revive an expired lease by a keepalive, and reads a live 1 s lease as TTL 0", async () => {
    const raw = new Etcd3({ hosts: config("probe").endpoints.map((e) => `http://${e}`) });
    const leases = raw.leaseClient;
    const keepalive = async (id: string): Promise<number> => {
      const stream = await leases.leaseKeepAlive();
      return new Promise<number>((resolve, reject) => {
        stream.on("data", (d: { TTL: string }) => {
          resolve(Number(d.TTL));
          stream.end();
        });
        stream.on("error", reject);
        stream.write({ ID: id });
      });
    };
    try {
      // LeaseTimeToLive truncates the remaining time to whole seconds: "TTL 0" is no proof of expiry.
      const live = await leases.leaseGrant({ TTL: 1 });
      expect(Number((await leases.leaseTimeToLive({ ID: live.ID })).TTL)).toBe(0);
      expect(await keepalive(live.ID)).toBe(1);
      const two = await leases.leaseGrant({ TTL: 2 });
      expect(Number((await leases.leaseTimeToLive({ ID: two.ID })).TTL)).toBe(1);

      // An expired lease whose key etcd's lessor has not removed yet (it runs every 500 ms): a keepalive waits
      // for the revocation and reports TTL 0; the key is gone.
      let probed = 0;
      for (let attempt = 0; attempt < 10 && probed < 3; attempt++) {
        const lease = await leases.leaseGrant({ TTL: 1 });
        const grantedAt = monotonicNow();
        const key = `probe/${process.pid}/${lease.ID}`;
        await raw.put(key).value("x").lease(lease.ID);
        await sleep(expiredBy(grantedAt, 1) - monotonicNow());
        if ((await raw.get(key).string()) === null) continue; // the lessor was quicker; try again
        const ttl = Number((await leases.leaseTimeToLive({ ID: lease.ID })).TTL);
        expect(ttl).toBeLessThanOrEqual(0);
        expect(await keepalive(lease.ID)).toBe(0);
        expect(await raw.get(key).string()).toBeNull();
        const after = await leases.leaseTimeToLive({ ID: lease.ID });
        expect(Number(after.grantedTTL)).toBe(0); // not found
        probed++;
      }
      expect(probed).toBe(3);
    } finally {
      raw.close();
    }
  });

  const TTL_S = 2; // the reaper needs leases of 2 s or more (see src/ha/etcd/predecessor-reaper.ts)

  /** A contender with its own etcd client, so that the test can cut it off as a SIGKILL would. */
  async function contender(id: string, name: string, lines?: string[]) {
    const logger = lines ? createLogger("info", {}, (line) => lines.push(line)) : silentLogger;
    const ctx = createEtcdContext(config(id, { ttlMs: TTL_S * 1000, safetyMarginMs: 200 }), logger);
    const driver = new EtcdElectionDriver(ctx, electionRoot(id, "jobmanager"), leaderKey(id, "jobmanager"));
    const rec = new DriverRecorder(name, driver);
    await driver.start(rec);
    return {
      rec,
      kill: () => closeEtcdContext(ctx), // no revoke, no more keepalives: etcd only sees the connection go
      close: async () => {
        await driver.close();
        closeEtcdContext(ctx);
      },
    };
  }

  it("never reaps the lease of a live leader", async () => {
    const id = `etcd-reap-live-${process.pid}`;
    const a = await contender(id, "a");
    const b = await contender(id, "b");
    try {
      await waitUntil(() => a.rec.leading, 5_000, "a to lead");
      await sleep(3 * TTL_S * 1000);
      expect(a.rec.leading).toBe(true);
      expect(a.rec.of("revoked")).toEqual([]);
      expect(b.rec.of("granted")).toEqual([]);
    } finally {
      await b.close();
      await a.close();
    }
  });

  it(`a SIGKILLed leader's successor is granted within TTL + 0.35 s (TTL ${TTL_S} s), after the dead leader's guard`, async () => {
    const samples: number[] = [];
    let reaped = 0;
    for (let round = 0; round < 5; round++) {
      const id = `etcd-reap-${process.pid}-${round}`;
      const lines: string[] = [];
      const a = await contender(id, "a");
      const b = await contender(id, "b", lines);
      try {
        await waitUntil(() => a.rec.leading, 5_000, "a to lead");
        await sleep(200 + Math.random() * 700); // a random phase of the keepalive cycle
        const killedAt = monotonicNow();
        a.kill();
        await waitUntil(() => b.rec.leading, TTL_S * 1000 + 2_000, "b to lead");
        const grantedAt = b.rec.of("granted")[0]!.at;
        samples.push((grantedAt - killedAt) / 1000);
        // The dead leader's zombie guard ended its session before the successor was granted.
        const revoked = a.rec.of("revoked")[0];
        expect(revoked?.reason).toMatch(/zombie guard/);
        expect(revoked!.at).toBeLessThan(grantedAt);
        // Either the successor reaped the lease (logged with its id) or etcd's lessor was quicker this time.
        const hex = a.rec.of("granted")[0]!.session.electionKey.split("/").at(-1);
        if (lines.some((l) => l.includes("revoked the expired lease") && l.includes(`lease=${hex}`)))
          reaped++;
      } finally {
        await b.close();
        await a.close();
      }
    }
    console.log(
      `etcd SIGKILL failover, TTL ${TTL_S} s: ${samples.map((s) => s.toFixed(3)).join(", ")} s; reaped by the successor: ${reaped} of 5`,
    );
    // The reaper polls every 0.2 s, etcd's lessor every 0.5 s: the reaper wins most rounds.
    expect(reaped).toBeGreaterThan(0);
    for (const s of samples) expect(s).toBeLessThanOrEqual(TTL_S + 0.35);
  });
});
