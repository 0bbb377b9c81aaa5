// Every nemesis fault injected and healed once on a small real cluster (3 JobManagers, 2 TaskManagers, TTL 2 s,
// a three-member coordinator, coordinator proxies), asserting the fault's effect through the processes' events
// and that each heal brings the cluster back to its configured shape with a leader everyone registered with.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ChaosCluster,
  FAULTS,
  type FaultInfo,
  type FaultName,
  type NemesisContext,
} from "../chaos/nemesis/index.ts";
import { clusterRoles } from "../src/local/cluster.ts";
import { stateOf } from "../src/local/proc.ts";

const TTL_MS = 2_000;
const OPTIONS = { ttlMs: TTL_MS, settleMs: 15_000 };
const FAILOVER_MS = 4 * TTL_MS + 5_000;

type Backend = "etcd" | "zookeeper";

function suite(backend: Backend): void {
  describe(`nemesis on ${backend}`, () => {
    let cluster: ChaosCluster;
    let ctx: NemesisContext;
    const timings: string[] = [];

    beforeAll(async () => {
      const t0 = performance.now();
      cluster = await ChaosCluster.start({
        backend,
        jobmanagers: 3,
        taskmanagers: 2,
        slots: 2,
        ttlSeconds: TTL_MS / 1_000,
        coordinatorMembers: 3,
        proxyCoordinator: true,
      });
      ctx = { cluster };
      timings.push(`start ${ms(t0)}`);
    }, 60_000);

    afterAll(async () => {
      await cluster?.stop();
      console.log(`[chaos-nemesis ${backend}] ${timings.join(", ")}`);
    });

    /** Injects, runs `during` (assertions on the effect), heals, and checks the configured shape is back. */
    async function cycle(
      name: FaultName,
      during: (injected: FaultInfo) => Promise<void> | void,
    ): Promise<{ injected: FaultInfo; healed: FaultInfo }> {
      const fault = FAULTS[name](OPTIONS);
      const t0 = performance.now();
      let injected: FaultInfo | undefined;
      let healed: FaultInfo;
      try {
        injected = await fault.inject(ctx);
        expect(injected.fault).toBe(name);
        expect(JSON.parse(JSON.stringify(injected))).toEqual(injected);
        await during(injected);
      } finally {
        // Heal even when an assertion failed, so that the next case starts on a whole cluster.
        healed = await fault.heal(ctx);
      }
      expect(JSON.parse(JSON.stringify(healed))).toEqual(healed);
      expect(cluster.jobmanagers()).toHaveLength(3);
      expect(cluster.taskmanagers()).toHaveLength(2);
      expect(healed.leader).not.toBeNull();
      expect(healed.leader?.name).toBe(cluster.leader()?.member.name);
      // Idempotent: a second heal finds nothing to do.
      const again = await fault.heal(ctx);
      expect(again.started).toEqual([]);
      timings.push(`${name} ${ms(t0)}`);
      return { injected, healed };
    }

    /** The leader now, and a later one must have a higher epoch. */
    function leaderNow(): { name: string; epoch: bigint } {
      const leader = cluster.leader();
      expect(leader).toBeDefined();
      return { name: leader!.member.name, epoch: leader!.epoch };
    }

    const newLeaderAfter = (epoch: bigint) => cluster.waitForLeader({ after: epoch, timeoutMs: FAILOVER_MS });

    const cases: Record<FaultName, () => Promise<void>> = {
      "kill-leader": async () => {
        const before = leaderNow();
        await cycle("kill-leader", async (info) => {
          expect(info).toMatchObject({ victims: [before.name], epoch: String(before.epoch) });
          expect(cluster.jobmanagers().map((m) => m.name)).not.toContain(before.name);
          const next = await newLeaderAfter(before.epoch);
          expect(next.member.name).not.toBe(before.name);
        });
      },
      "replay-stale-write": async () => {
        const before = leaderNow();
        await cycle("replay-stale-write", (info) => {
          expect(info).toMatchObject({
            victims: [before.name],
            epoch: String(before.epoch),
            details: { outcome: "refused" },
          });
        });
      },
      "stop-leader": async () => {
        const before = leaderNow();
        await cycle("stop-leader", async (info) => {
          expect(info).toMatchObject({ victims: [before.name], details: { endedBy: "SIGTERM" } });
          await newLeaderAfter(before.epoch);
        });
      },
      "kill-all-jobmanagers": async () => {
        const before = leaderNow();
        const { healed } = await cycle("kill-all-jobmanagers", (info) => {
          expect(info.victims).toHaveLength(3);
          expect(cluster.jobmanagers()).toHaveLength(0);
          expect(cluster.leader()).toBeUndefined();
        });
        expect(healed.started).toHaveLength(3);
        expect(BigInt(healed.leader!.epoch)).toBeGreaterThan(before.epoch);
      },
      "pause-leader": async () => {
        const before = leaderNow();
        const victim = cluster.leader()!.member;
        const { healed } = await cycle("pause-leader", async () => {
          expect(stateOf(victim.proc.pid)).toBe("T");
          await newLeaderAfter(before.epoch);
        });
        expect(healed.details).toEqual({ demoted: "revoked" });
        expect(stateOf(victim.proc.pid)).not.toBe("T");
        expect(cluster.jobmanagers()).toContain(victim);
        expect(healed.started).toEqual([]);
      },
      "partition-leader": async () => {
        const before = leaderNow();
        const { healed } = await cycle("partition-leader", async (info) => {
          expect(info.details).toMatchObject({ proxies: 3 });
          const next = await newLeaderAfter(before.epoch);
          expect(next.member.name).not.toBe(before.name);
        });
        expect(healed.details).toMatchObject({ demoted: "revoked" });
        expect(Number(healed.details?.["heldBytes"])).toBeGreaterThan(0);
        for (const p of cluster.local.proxiesOf(before.name)) expect(p.mode).toBe("forward");
      },
      "drop-replies": async () => {
        const before = leaderNow();
        await cycle("drop-replies", (info) => {
          expect(info.victims).toEqual([before.name]);
          expect(Number(info.details?.["bytesDropped"])).toBeGreaterThan(0);
          expect(Number(info.details?.["resets"])).toBeGreaterThan(0);
        });
        for (const p of cluster.local.proxiesOf(before.name)) expect(p.mode).toBe("forward");
      },
      "kill-taskmanager": async () => {
        const { injected, healed } = await cycle("kill-taskmanager", (info) => {
          expect(info.victims).toHaveLength(1);
          expect(cluster.taskmanagers()).toHaveLength(1);
        });
        expect(healed.started).toHaveLength(1);
        expect(healed.started).not.toContain(injected.victims[0]);
      },
      "kill-taskmanagers": async () => {
        await cycle("kill-taskmanagers", (info) => {
          expect(info.victims).toHaveLength(1);
          expect(cluster.taskmanagers()).toHaveLength(1);
        });
      },
      "kill-all-taskmanagers": async () => {
        const { healed } = await cycle("kill-all-taskmanagers", (info) => {
          expect(info.victims).toHaveLength(2);
          expect(cluster.taskmanagers()).toHaveLength(0);
        });
        expect(healed.started).toHaveLength(2);
      },
      "kill-coordinator-minority": async () => {
        await cycle("kill-coordinator-minority", async (info) => {
          expect(info.victims).toHaveLength(1);
          await cluster.coordinator.waitHealthy(10_000);
        });
        expect((await clusterRoles(cluster.coordinator)).every((r) => r !== undefined)).toBe(true);
      },
      "kill-coordinator-majority": async () => {
        const { healed } = await cycle("kill-coordinator-majority", async (info) => {
          expect(info.victims).toHaveLength(2);
          // A ZooKeeper leader notices its lost followers only after syncLimit ticks.
          await eventually(
            async () => (await clusterRoles(cluster.coordinator)).every((r) => r === undefined),
            10_000,
            "no coordinator member serving",
          );
        });
        expect(healed.victims).toHaveLength(2);
        expect((await clusterRoles(cluster.coordinator)).every((r) => r !== undefined)).toBe(true);
      },
    };

    for (const name of Object.keys(FAULTS) as FaultName[]) it(name, cases[name], 60_000);
  });
}

async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 50));
  }
}

function ms(t0: number): string {
  return `${Math.round(performance.now() - t0)} ms`;
}

suite("etcd");
suite("zookeeper");
