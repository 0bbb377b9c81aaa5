// The etcd backend across etcd faults: a restart of the only member, and the loss of a minority and then a
// majority of a three-member cluster. Asserts through recorded events.
import { afterEach, describe, expect, it } from "vitest";
import { monotonicNow } from "../src/common/clock.ts";
import { silentLogger } from "../src/common/logger.ts";
import { compileHaConfig } from "../src/config/ha-config.ts";
import type { HaBackend } from "../src/ha/backend.ts";
import type { LeaderElectionListener, LeaderInfo } from "../src/ha/election-driver.ts";
import { createEtcdBackend } from "../src/ha/etcd/index.ts";
import type { LeaderSession } from "../src/ha/leader-session.ts";
import type { StoreChange } from "../src/ha/state-handle-store.ts";
import { waitUntil } from "../src/ha/testing.ts";
import { startEtcd } from "./harness/servers.ts";

const TTL_MS = 1_000;
type Cluster = Awaited<ReturnType<typeof startEtcd>>;

interface Contender {
  readonly name: string;
  readonly backend: HaBackend;
  readonly grants: Array<{ at: number; session: LeaderSession }>;
  readonly revokes: Array<{ at: number; epoch: bigint; reason: string }>;
  session: LeaderSession | undefined;
}

const leading = (c: Contender): boolean => c.session?.isValid() ?? false;

describe("etcd backend under etcd faults", () => {
  const backends: HaBackend[] = [];
  const clusters: Cluster[] = [];
  afterEach(async () => {
    for (const b of backends.splice(0)) await b.close();
    for (const c of clusters.splice(0)) await c.stop();
  });

  async function backendOn(cluster: Cluster, clusterId: string): Promise<HaBackend> {
    const backend = createEtcdBackend(
      compileHaConfig({
        backend: "etcd",
        endpoints: cluster.endpoints.map((e) => e.replace(/^https?:\/\//, "")),
        clusterId,
        ttlMs: TTL_MS,
        requestTimeoutMs: 500,
        connectTimeoutMs: 3_000,
      }),
      silentLogger,
    );
    backends.push(backend);
    await backend.connect();
    return backend;
  }

  async function contender(cluster: Cluster, clusterId: string, name: string): Promise<Contender> {
    const backend = await backendOn(cluster, clusterId);
    const driver = backend.createElectionDriver("jobmanager");
    const c: Contender = { name, backend, grants: [], revokes: [], session: undefined };
    const listener: LeaderElectionListener = {
      onGrantLeadership: (session) => {
        c.session = session;
        c.grants.push({ at: monotonicNow(), session });
        driver.publishLeaderInformation(session, { name, address: `${name}.example:7000` }).catch(() => {});
      },
      onRevokeLeadership: (session, reason) => {
        if (c.session === session) c.session = undefined;
        c.revokes.push({ at: monotonicNow(), epoch: session.epoch, reason });
      },
      onLeaderInformationChange: () => {},
      onError: () => {},
    };
    await driver.start(listener);
    return c;
  }

  it("after a restart of etcd there is again exactly one leader; retrieval and store watches catch up", async () => {
    const cluster = await startEtcd({ members: 1 });
    clusters.push(cluster);
    const id = `etcd-restart-${process.pid}`;
    const a = await contender(cluster, id, "a");
    const b = await contender(cluster, id, "b");
    await waitUntil(() => leading(a), 5_000, "a to lead");

    const follower = await backendOn(cluster, id);
    const seen: Array<LeaderInfo | undefined> = [];
    const retrieval = follower.createRetrievalDriver("jobmanager");
    await retrieval.start({ onLeaderInformation: (i) => seen.push(i), onError: () => {} });
    const changes: StoreChange[] = [];
    const watch = await follower.store.watch("w", (c) => changes.push(c));
    await waitUntil(() => seen.at(-1)?.name === "a", 3_000, "retrieval to see a");

    await cluster.restart(0);
    await waitUntil(() => changes.some((c) => c.kind === "resync"), 5_000, "a store watch resync");
    await waitUntil(() => leading(a) || leading(b), 5_000, "a leader after the restart");
    const leader = leading(a) ? a : b;
    await waitUntil(
      () => seen.at(-1)?.epoch === leader.session?.epoch,
      5_000,
      "retrieval to report the current leader",
    );
    expect([a, b].filter(leading)).toHaveLength(1);
    await leader.backend.store.create("w/after", new Uint8Array([1]), leader.session!);
    await waitUntil(
      () => changes.some((c) => c.kind === "put" && c.key === "w/after"),
      3_000,
      "the put event",
    );
    await watch.close();
    await retrieval.close();
  });

  it("keeps leadership while one of three members is frozen or dead; demotes itself within the TTL when a majority freezes", async () => {
    const cluster = await startEtcd({ members: 3 });
    clusters.push(cluster);
    const id = `etcd-quorum-${process.pid}`;
    const a = await contender(cluster, id, "a");
    const b = await contender(cluster, id, "b");
    await waitUntil(() => leading(a), 5_000, "a to lead");
    const epoch = a.session!.epoch;

    // A frozen member (calls to it hang) and then a dead one (calls fail fast), for several TTLs each: the
    // leader must not flap.
    const steady = async (ms: number): Promise<void> => {
      const until = monotonicNow() + ms;
      while (monotonicNow() < until) {
        expect(leading(a)).toBe(true);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    cluster.pause(2);
    await steady(3 * TTL_MS);
    await cluster.kill(2);
    await steady(2 * TTL_MS);
    expect(a.revokes).toHaveLength(0);
    await a.backend.store.create("q/x", new Uint8Array([1]), a.session!);

    const frozenAt = monotonicNow();
    cluster.pause(0);
    cluster.pause(1);
    try {
      await waitUntil(() => a.revokes.length > 0, 2 * TTL_MS, "a to demote itself");
    } finally {
      cluster.resume(0);
      cluster.resume(1);
    }
    const demotedMs = a.revokes[0]!.at - frozenAt;
    console.log(
      `etcd majority frozen: leader demoted itself after ${demotedMs.toFixed(0)} ms (TTL ${TTL_MS} ms)`,
    );
    expect(demotedMs).toBeLessThanOrEqual(TTL_MS);
    expect(a.revokes[0]!.reason).toMatch(/zombie guard/);
    await cluster.restart(2);
    await waitUntil(() => leading(a) || leading(b), 10_000, "a leader after healing");
    const now = leading(a) ? a : b;
    expect(now.session!.epoch).toBeGreaterThan(epoch);
    expect([a, b].filter(leading)).toHaveLength(1);
  });
});
