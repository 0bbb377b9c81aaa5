import { afterEach, describe, expect, it } from "vitest";
import { sleep } from "../common/clock.ts";
import { LeadershipLostError, StaleFenceError } from "../common/errors.ts";
import { silentLogger } from "../common/logger.ts";
import { codecs } from "../generated/records.ts";
import type { LeaderElectionDriver, LeaderElectionListener } from "./election-driver.ts";
import { clusterRoot, leaderKey } from "./keys.ts";
import { LeaderElectionService } from "./leader-election-service.ts";
import { GuardedLeaderSession, type LeaderSession } from "./leader-session.ts";
import { MemoryCoordinator, MemoryHaBackend } from "./memory/index.ts";
import { RecordingContender, waitUntil } from "./testing.ts";

const config = { clusterId: "c1", ttlMs: 300, safetyMarginMs: 30 };
let coordinator: MemoryCoordinator;
const open: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  coordinator?.close();
});

async function contender(name: string, autoConfirm = true) {
  const backend = new MemoryHaBackend(coordinator, config);
  open.push(backend);
  const service = new LeaderElectionService(backend.createElectionDriver("test"), name, silentLogger);
  open.push(service);
  const rec = new RecordingContender(service, name, `${name}:1`);
  rec.autoConfirm = autoConfirm;
  await service.start(rec);
  return { backend, service, rec };
}

describe("LeaderElectionService on the memory backend", () => {
  it("grants exactly one of three contenders and hands over at once on close, with a higher epoch", async () => {
    coordinator = new MemoryCoordinator();
    const all = [await contender("a"), await contender("b"), await contender("c")];
    await waitUntil(() => all.some((x) => x.rec.leading));
    expect(all.filter((x) => x.rec.leading)).toHaveLength(1);
    const first = all.find((x) => x.rec.leading)!;
    const firstEpoch = first.rec.session!.epoch;
    await first.service.close();
    await waitUntil(() => all.some((x) => x !== first && x.rec.leading));
    const second = all.find((x) => x.rec.leading)!;
    expect(second.rec.session!.epoch).toBeGreaterThan(firstEpoch);
    expect(first.rec.events.map((e) => e.type)).toEqual(["granted", "revoked"]);
  });

  it("publishes leader information only after the contender confirms", async () => {
    coordinator = new MemoryCoordinator();
    const a = await contender("a", false);
    const key = leaderKey("c1", "test");
    await waitUntil(() => a.rec.leading);
    expect(coordinator.get(key)).toBeUndefined();
    expect(await a.service.confirmLeadership(a.rec.session!, "a:1")).toBe(true);
    const info = codecs.LeaderInformation.decode(coordinator.get(key)!.value);
    expect(info).toMatchObject({ name: "a", address: "a:1", epoch: a.rec.session!.epoch });
  });

  it("corrects leader information that someone else overwrote", async () => {
    coordinator = new MemoryCoordinator();
    await contender("a");
    const key = leaderKey("c1", "test");
    await waitUntil(() => coordinator.get(key) !== undefined);
    const forged = codecs.LeaderInformation.encode({
      version: 1,
      name: "x",
      address: "x:9",
      epoch: 1n,
      sessionId: "x",
    });
    coordinator.txn([], [{ type: "put", key, value: forged }]);
    await waitUntil(() => codecs.LeaderInformation.decode(coordinator.get(key)!.value).name === "a");
    expect(codecs.LeaderInformation.decode(coordinator.get(key)!.value).address).toBe("a:1");
  });

  it("a partitioned leader revokes itself by its own deadline, and its later fenced write is refused", async () => {
    coordinator = new MemoryCoordinator();
    const a = await contender("a");
    await waitUntil(() => a.rec.leading);
    const b = await contender("b");
    const stale = a.rec.session!;
    a.backend.partition();
    await waitUntil(() => !a.rec.leading, 2_000);
    // The guard fired before the coordinator could expire the session and elect b.
    expect(a.rec.events.at(-1)?.type).toBe("revoked");
    expect(b.rec.events.filter((e) => e.type === "granted").length).toBeLessThanOrEqual(1);
    await waitUntil(() => b.rec.leading, 2_000);
    a.backend.heal();
    await expect(a.backend.store.create("jobgraphs/j", new Uint8Array([1]), stale)).rejects.toBeInstanceOf(
      LeadershipLostError,
    );
    expect(coordinator.get(`${clusterRoot("c1")}/jobgraphs/j`)).toBeUndefined();
    // A stale session that does not know it is stale is refused by the backend itself.
    const unaware = new GuardedLeaderSession(
      stale.epoch,
      stale.electionKey,
      Number.POSITIVE_INFINITY,
      () => {},
    );
    await expect(a.backend.store.create("jobgraphs/j", new Uint8Array([1]), unaware)).rejects.toBeInstanceOf(
      StaleFenceError,
    );
    expect(coordinator.get(`${clusterRoot("c1")}/jobgraphs/j`)).toBeUndefined();
    // And a comes back as a standby that can lead again.
    await b.service.close();
    await waitUntil(() => a.rec.leading, 2_000);
    expect(a.rec.session!.epoch).toBeGreaterThan(b.rec.events[0]!.epoch);
  });

  it("runIfLeader runs nothing for a session that is gone", async () => {
    coordinator = new MemoryCoordinator();
    const a = await contender("a");
    await waitUntil(() => a.rec.leading);
    const s = a.rec.session!;
    expect(await a.service.runIfLeader(s, () => 42)).toBe(42);
    a.backend.expireSessions();
    await waitUntil(() => !a.rec.leading);
    let ran = false;
    await expect(
      a.service.runIfLeader(s, () => {
        ran = true;
      }),
    ).rejects.toBeInstanceOf(LeadershipLostError);
    expect(ran).toBe(false);
  });
});

describe("LeaderElectionService ordering guarantees", () => {
  class ScriptedDriver implements LeaderElectionDriver {
    listener: LeaderElectionListener | undefined;
    published: bigint[] = [];
    async start(l: LeaderElectionListener): Promise<void> {
      this.listener = l;
    }
    async publishLeaderInformation(s: LeaderSession): Promise<void> {
      this.published.push(s.epoch);
    }
    async close(): Promise<void> {}
  }
  const session = (epoch: bigint) =>
    new GuardedLeaderSession(epoch, `k${epoch}`, Number.POSITIVE_INFINITY, () => {});

  it("keeps grant and revoke alternating whatever the driver reports", async () => {
    const driver = new ScriptedDriver();
    const service = new LeaderElectionService(driver, "x", silentLogger);
    const rec = new RecordingContender(service, "x", "x:1");
    await service.start(rec);
    const s1 = session(1n);
    const s2 = session(2n);
    driver.listener!.onRevokeLeadership(s1, "revoke before any grant");
    driver.listener!.onGrantLeadership(s1);
    driver.listener!.onGrantLeadership(s2); // no revoke of s1 in between
    driver.listener!.onRevokeLeadership(s1, "late revoke of an old session");
    driver.listener!.onRevokeLeadership(s2, "real");
    await service.close();
    expect(rec.events.map((e) => `${e.type}:${e.epoch}`)).toEqual([
      "granted:1",
      "revoked:1",
      "granted:2",
      "revoked:2",
    ]);
    expect(driver.published).toEqual([1n, 2n]);
  });

  it("does not publish a confirmation that arrives after the session ended", async () => {
    const driver = new ScriptedDriver();
    const service = new LeaderElectionService(driver, "x", silentLogger);
    const rec = new RecordingContender(service, "x", "x:1");
    rec.autoConfirm = false;
    await service.start(rec);
    const s1 = session(1n);
    driver.listener!.onGrantLeadership(s1);
    driver.listener!.onRevokeLeadership(s1, "gone");
    expect(await service.confirmLeadership(s1, "x:1")).toBe(false);
    expect(driver.published).toEqual([]);
  });
  it("hands what a contender throws to handleError and still closes the driver", async () => {
    const driver = new ScriptedDriver();
    let driverClosed = false;
    driver.close = async () => {
      driverClosed = true;
    };
    const service = new LeaderElectionService(driver, "x", silentLogger);
    const errors: Error[] = [];
    await service.start({
      grantLeadership: () => {
        throw new Error("recovery failed");
      },
      revokeLeadership: () => {
        throw new Error("cannot stop");
      },
      handleError: (e) => errors.push(e),
    });
    driver.listener!.onGrantLeadership(session(1n));
    await service.close();
    expect(errors.map((e) => e.message)).toEqual(["recovery failed", "cannot stop"]);
    expect(driverClosed).toBe(true);
    driver.listener!.onGrantLeadership(session(2n)); // after close: dropped
    expect(errors).toHaveLength(2);
  });

  it("retries a failed publication while the session lasts, and stops when it ends", async () => {
    const driver = new ScriptedDriver();
    let failures = 2;
    driver.publishLeaderInformation = async (s: LeaderSession) => {
      if (failures-- > 0) throw new Error("backend unavailable");
      driver.published.push(s.epoch);
    };
    const service = new LeaderElectionService(driver, "x", silentLogger);
    const rec = new RecordingContender(service, "x", "x:1");
    await service.start(rec);
    const s1 = session(1n);
    driver.listener!.onGrantLeadership(s1);
    await waitUntil(() => driver.published.length === 1, 2_000, "the retried publication");
    expect(driver.published).toEqual([1n]);
    expect(rec.errors.map((e) => e.message)).toEqual(["backend unavailable", "backend unavailable"]);
    failures = 100;
    driver.listener!.onRevokeLeadership(s1, "gone");
    await service.close();
    const after = rec.errors.length;
    await sleep(200);
    expect(rec.errors.length).toBe(after);
  });
});
