// Faults on JobManager processes: SIGKILL the leader or every JobManager, SIGTERM the leader (a graceful
// stop resigns at once), SIGSTOP the leader past its TTL and SIGCONT it (the zombie case: it must demote
// itself before acting). Heals start replacements until the configured count lives again.
import type { LeaderView } from "./chaos-cluster.ts";
import {
  demotionWaitMs,
  type Fault,
  type FaultInfo,
  type FaultOptions,
  leaderToHit,
  type NemesisContext,
  pastTtlMs,
  restoreAndSettle,
  waitDemoted,
} from "./fault.ts";

export function killLeader(o: FaultOptions): Fault {
  const name = "kill-leader";
  return {
    name,
    description: "SIGKILL the leader JobManager; heal starts a replacement",
    async inject(ctx) {
      const leader = await leaderToHit(ctx, o);
      await ctx.cluster.kill(leader.member);
      return { fault: name, victims: [leader.member.name], epoch: String(leader.epoch) };
    },
    heal: (ctx) => restoreAndSettle(ctx, o, { fault: name, victims: [] }),
  };
}

export function killAllJobManagers(o: FaultOptions): Fault {
  const name = "kill-all-jobmanagers";
  return {
    name,
    description: "SIGKILL every JobManager at once; heal starts the configured number again",
    async inject(ctx) {
      const leader = ctx.cluster.leader();
      const victims = ctx.cluster.jobmanagers();
      await Promise.all(victims.map((m) => ctx.cluster.kill(m)));
      return {
        fault: name,
        victims: victims.map((m) => m.name),
        ...(leader && { epoch: String(leader.epoch) }),
      };
    },
    heal: (ctx) => restoreAndSettle(ctx, o, { fault: name, victims: [] }),
  };
}

export function stopLeader(o: FaultOptions): Fault {
  const name = "stop-leader";
  return {
    name,
    description: "SIGTERM the leader JobManager (graceful: it resigns); heal starts a replacement",
    async inject(ctx) {
      const leader = await leaderToHit(ctx, o);
      const ended = await ctx.cluster.terminate(leader.member, o.ttlMs + 5_000);
      return {
        fault: name,
        victims: [leader.member.name],
        epoch: String(leader.epoch),
        details: { endedBy: ended.by, code: ended.code, signal: ended.signal },
      };
    },
    heal: (ctx) => restoreAndSettle(ctx, o, { fault: name, victims: [] }),
  };
}

/** SIGSTOP the leader past its TTL; heal SIGCONTs it and waits (bounded) for it to demote itself. */
export function pauseLeader(o: FaultOptions): Fault {
  const name = "pause-leader";
  let victim: LeaderView | undefined;
  return {
    name,
    description: "SIGSTOP the leader JobManager past its TTL; heal SIGCONTs it, and it must demote itself",
    minDurationMs: pastTtlMs(o),
    async inject(ctx) {
      const leader = await leaderToHit(ctx, o);
      victim = leader;
      await ctx.cluster.pause(leader.member, ctx.signal);
      return { fault: name, victims: [leader.member.name], epoch: String(leader.epoch) };
    },
    async heal(ctx: NemesisContext): Promise<FaultInfo> {
      const v = victim;
      victim = undefined;
      if (!v) return restoreAndSettle(ctx, o, { fault: name, victims: [] });
      await ctx.cluster.resume(v.member, ctx.signal);
      const demoted = await waitDemoted(ctx, v, demotionWaitMs(o));
      return restoreAndSettle(ctx, o, {
        fault: name,
        victims: [v.member.name],
        epoch: String(v.epoch),
        details: { demoted },
      });
    },
  };
}
