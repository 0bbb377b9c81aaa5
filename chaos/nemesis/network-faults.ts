// Network faults between the leader and the coordinator, through the TCP proxies LocalCluster puts in front
// of each coordinator member per JobManager (proxyCoordinator). The leader keeps reaching its TaskManagers:
// only its coordinator link is cut, which is exactly when a zombie leader could do harm.
//   partition-leader: the leader's proxies hold traffic both ways; heal releases it, as TCP retransmits.
//   drop-replies: requests reach the coordinator but replies are lost, then the connections are reset: the
//   writes in flight were committed (or not) and the leader cannot tell. Replies keep being dropped until
//   heal, which forwards again and resets the connections whose streams lost bytes.
import { sleep } from "../../src/common/clock.ts";
import type { TcpProxy, TcpProxyStats } from "../../src/local/tcp-proxy.ts";
import type { LeaderView } from "./chaos-cluster.ts";
import {
  checkRequirements,
  demotionWaitMs,
  type Fault,
  type FaultInfo,
  type FaultOptions,
  type JsonValue,
  leaderToHit,
  type NemesisContext,
  pastTtlMs,
  restoreAndSettle,
  waitDemoted,
} from "./fault.ts";

interface Cut {
  readonly victim: LeaderView;
  readonly proxies: readonly TcpProxy[];
}

async function cutLeader(ctx: NemesisContext, o: FaultOptions, fault: Fault): Promise<Cut> {
  checkRequirements(ctx, fault);
  const victim = await leaderToHit(ctx, o);
  return { victim, proxies: ctx.cluster.local.proxiesOf(victim.member) };
}

/** Counters summed over a JobManager's proxies, for FaultInfo. */
function totals(proxies: readonly TcpProxy[]): { readonly [key: string]: JsonValue } {
  const sum = (k: keyof Omit<TcpProxyStats, "mode">): number => proxies.reduce((n, p) => n + p.stats()[k], 0);
  return {
    proxies: proxies.length,
    connections: sum("connections"),
    heldBytes: sum("heldBytes"),
    bytesDropped: sum("bytesDropped"),
    resets: sum("resets"),
    overflows: sum("overflows"),
  };
}

export function partitionLeader(o: FaultOptions): Fault {
  const name = "partition-leader";
  let cut: Cut | undefined;
  const fault: Fault = {
    name,
    description:
      "hold all traffic between the leader JobManager and the coordinator (TaskManagers still reachable); " +
      "heal delivers what was held",
    requires: { proxyCoordinator: true },
    minDurationMs: pastTtlMs(o),
    async inject(ctx) {
      const c = await cutLeader(ctx, o, fault);
      for (const p of c.proxies) p.setMode("hold");
      cut = c;
      return {
        fault: name,
        victims: [c.victim.member.name],
        epoch: String(c.victim.epoch),
        details: totals(c.proxies),
      };
    },
    async heal(ctx): Promise<FaultInfo> {
      const c = cut;
      cut = undefined;
      if (!c) return restoreAndSettle(ctx, o, { fault: name, victims: [] });
      const held = totals(c.proxies);
      for (const p of c.proxies) p.setMode("forward");
      const demoted = await waitDemoted(ctx, c.victim, demotionWaitMs(o));
      return restoreAndSettle(ctx, o, {
        fault: name,
        victims: [c.victim.member.name],
        epoch: String(c.victim.epoch),
        details: { ...held, demoted },
      });
    },
  };
  return fault;
}

export function dropReplies(o: FaultOptions): Fault {
  const name = "drop-replies";
  const dropMs = o.dropMs ?? o.ttlMs / 2;
  let cut: Cut | undefined;
  const fault: Fault = {
    name,
    description:
      "the coordinator receives the leader's requests but its replies are dropped, then the connections " +
      "are reset (writes with unknown outcome); heal forwards again",
    requires: { proxyCoordinator: true },
    async inject(ctx) {
      const c = await cutLeader(ctx, o, fault);
      cut = c;
      for (const p of c.proxies) p.setMode("drop-replies");
      await sleep(dropMs, ctx.signal);
      for (const p of c.proxies) p.reset();
      return {
        fault: name,
        victims: [c.victim.member.name],
        epoch: String(c.victim.epoch),
        details: { dropMs, ...totals(c.proxies) },
      };
    },
    async heal(ctx): Promise<FaultInfo> {
      const c = cut;
      cut = undefined;
      if (!c) return restoreAndSettle(ctx, o, { fault: name, victims: [] });
      const during = totals(c.proxies);
      for (const p of c.proxies) {
        p.setMode("forward");
        // Streams that lost reply bytes are corrupt for the client's protocol: start them afresh.
        p.reset();
      }
      return restoreAndSettle(ctx, o, {
        fault: name,
        victims: [c.victim.member.name],
        epoch: String(c.victim.epoch),
        details: during,
      });
    },
  };
  return fault;
}
