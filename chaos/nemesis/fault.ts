// What a fault is (Jepsen's nemesis: inject, then heal), what it is told, what it reports, and the steps most
// faults share: find a leader to hit, and after healing bring the cluster back to its configured shape.
import { sleep } from "../../src/common/clock.ts";
import { ConfigError } from "../../src/common/errors.ts";
import type { ChaosCluster, LeaderView } from "./chaos-cluster.ts";
import { epochOf } from "./leader.ts";

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

export interface NemesisContext {
  readonly cluster: ChaosCluster;
  /** Picks victims (seeded by the runner, so a run replays); without it the first candidates are taken. */
  readonly random?: { int(n: number): number };
  /** Ends every wait of inject and heal early (the run is stopping). */
  readonly signal?: AbortSignal;
}

/** What an inject or heal did, JSON-able for the history and the report. */
export interface FaultInfo {
  readonly fault: string;
  /** What was hit or healed: member names ("jm-2", "tm-1") or coordinator members ("etcd-1", "zookeeper-0"). */
  readonly victims: readonly string[];
  /** The leader epoch the fault aimed at, as a decimal string. */
  readonly epoch?: string;
  /** heal: processes started to restore the configured counts. */
  readonly started?: readonly string[];
  /** heal: the leader once every live TaskManager registered with it; null when not within the bound. */
  readonly leader?: { readonly name: string; readonly epoch: string } | null;
  /** Fault-specific facts (proxy counters, how a process ended, whether a resumed leader demoted itself). */
  readonly details?: { readonly [key: string]: JsonValue };
}

export interface Fault {
  /** --nemesis name, e.g. "kill-leader". */
  readonly name: string;
  readonly description: string;
  /** What the cluster must have for this fault; inject refuses with a clear error otherwise. */
  readonly requires?: FaultRequirements;
  /** Injects it; resolves once in effect. Records nothing itself (the runner logs nemesis ops). */
  inject(ctx: NemesisContext): Promise<FaultInfo>;
  /** Heals what inject did (restart/replace/resume/reconnect); idempotent; resolves once healed. */
  heal(ctx: NemesisContext): Promise<FaultInfo>;
  /** Shortest time between inject and heal for the fault to mean something (pause past the TTL). */
  readonly minDurationMs?: number;
}

export interface FaultRequirements {
  /** LocalClusterOptions.coordinatorMembers */
  readonly coordinatorMembers?: 3;
  /** LocalClusterOptions.proxyCoordinator */
  readonly proxyCoordinator?: true;
}

export interface FaultOptions {
  /** Lease TTL / session timeout of the JobManagers. */
  readonly ttlMs: number;
  /** Bound on each wait of inject and heal (a leader to hit; settling after a heal). Default 4 × TTL + 10 s. */
  readonly settleMs?: number;
  /** drop-replies: how long replies are dropped before the connections are reset. Default TTL / 2. */
  readonly dropMs?: number;
}

export type FaultFactory = (options: FaultOptions) => Fault;

export function settleMs(o: FaultOptions): number {
  return o.settleMs ?? 4 * o.ttlMs + 10_000;
}

/** How long past the TTL a fault must last for the others to have taken over (ZooKeeper expires by ticks). */
export function pastTtlMs(o: FaultOptions): number {
  return o.ttlMs + Math.max(1_000, o.ttlMs / 2);
}

/** How long a resumed or reconnected leader gets to notice it lost (it should take milliseconds). */
export function demotionWaitMs(o: FaultOptions): number {
  return o.ttlMs + 2_000;
}

/** The current leader, waiting (bounded) for one when there is none right now. */
export async function leaderToHit(ctx: NemesisContext, o: FaultOptions): Promise<LeaderView> {
  return (
    ctx.cluster.leader() ??
    (await ctx.cluster.waitForLeader({ timeoutMs: settleMs(o), ...(ctx.signal && { signal: ctx.signal }) }))
  );
}

/** `count` distinct items, chosen by ctx.random when given, else the first ones. */
export function pick<T>(ctx: NemesisContext, items: readonly T[], count: number): T[] {
  const left = [...items];
  const chosen: T[] = [];
  while (chosen.length < count && left.length > 0) {
    const i = ctx.random ? ctx.random.int(left.length) : 0;
    chosen.push(...left.splice(i, 1));
  }
  return chosen;
}

/** The end of most heals: restart what is missing, then wait (bounded) for a leader and registrations. */
export async function restoreAndSettle(
  ctx: NemesisContext,
  o: FaultOptions,
  info: Omit<FaultInfo, "started" | "leader">,
): Promise<FaultInfo> {
  const started = await ctx.cluster.restoreCounts();
  const leader = await ctx.cluster.settle({
    timeoutMs: settleMs(o),
    ...(ctx.signal && { signal: ctx.signal }),
  });
  return {
    ...info,
    started: started.map((m) => m.name),
    leader: leader ? { name: leader.member.name, epoch: String(leader.epoch) } : null,
  };
}

/** Refuses a fault the cluster was not built for, saying which option to set. */
export function checkRequirements(ctx: NemesisContext, fault: Fault): void {
  const r = fault.requires;
  const local = ctx.cluster.local.options;
  if (r?.coordinatorMembers && ctx.cluster.coordinator.size < r.coordinatorMembers) {
    throw new ConfigError(
      `${fault.name} needs a coordinator of ${r.coordinatorMembers} members, this ${ctx.cluster.coordinator.kind} ` +
        `has ${ctx.cluster.coordinator.size}: start the cluster with coordinatorMembers: ${r.coordinatorMembers}`,
    );
  }
  if (r?.proxyCoordinator && !local.proxyCoordinator) {
    throw new ConfigError(
      `${fault.name} needs a TCP proxy between each JobManager and the coordinator: start the cluster with ` +
        "proxyCoordinator: true",
    );
  }
}

/**
 * Waits (bounded) until a leader of `epoch` says it is no longer one: "revoked" when it printed `revoked` for
 * that epoch, "exited" when its process ended, "still-leading" when neither happened in time.
 */
export async function waitDemoted(
  ctx: NemesisContext,
  victim: LeaderView,
  timeoutMs: number,
): Promise<"revoked" | "exited" | "still-leading"> {
  const revoked = (): boolean =>
    victim.member.proc.events.some((e) => e["event"] === "revoked" && epochOf(e) === victim.epoch);
  const exited = (): boolean => ctx.cluster.local.exitedAt(victim.member) !== undefined;
  const deadline = Date.now() + timeoutMs;
  while (!revoked() && !exited() && Date.now() < deadline) await sleep(20, ctx.signal);
  return revoked() ? "revoked" : exited() ? "exited" : "still-leading";
}
