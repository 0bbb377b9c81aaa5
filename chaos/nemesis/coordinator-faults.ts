// Faults on the coordinator itself (etcd members / ZooKeeper servers) of a three-member cluster: SIGKILL a
// minority (the cluster keeps serving; clients must fail over to the others) or a majority (nothing can be
// written: leaders must demote themselves, and nobody may lead until the quorum is back). Heal restarts the
// killed members with their data and waits until the coordinator is healthy again.
import { UnavailableError } from "../../src/common/errors.ts";
import {
  checkRequirements,
  type Fault,
  type FaultInfo,
  type FaultOptions,
  type NemesisContext,
  pick,
  restoreAndSettle,
  settleMs,
} from "./fault.ts";

function killCoordinatorMembers(
  o: FaultOptions,
  name: string,
  description: string,
  howMany: (size: number) => number,
): Fault {
  const killed = new Set<number>();
  const memberName = (ctx: NemesisContext, i: number): string => `${ctx.cluster.coordinator.kind}-${i}`;
  const fault: Fault = {
    name,
    description,
    requires: { coordinatorMembers: 3 },
    async inject(ctx) {
      checkRequirements(ctx, fault);
      const coordinator = ctx.cluster.coordinator;
      const running = [...Array(coordinator.size).keys()].filter((i) => !killed.has(i));
      const victims = pick(ctx, running, howMany(coordinator.size) - killed.size);
      for (const i of victims) killed.add(i);
      await Promise.all(victims.map((i) => coordinator.kill(i)));
      const leader = ctx.cluster.leader();
      return {
        fault: name,
        victims: victims.map((i) => memberName(ctx, i)),
        ...(leader && { epoch: String(leader.epoch) }),
      };
    },
    async heal(ctx): Promise<FaultInfo> {
      const coordinator = ctx.cluster.coordinator;
      const restarted = [...killed].sort((a, b) => a - b);
      const startedAt = Date.now();
      for (const i of restarted) {
        // One at a time: each restart waits for a quorum that includes the member it started.
        await coordinator.restart(i);
        killed.delete(i);
      }
      try {
        await coordinator.waitHealthy(settleMs(o));
      } catch (e: unknown) {
        throw new UnavailableError(
          `${name}: the ${coordinator.kind} cluster is not healthy after the heal`,
          e,
        );
      }
      return restoreAndSettle(ctx, o, {
        fault: name,
        victims: restarted.map((i) => memberName(ctx, i)),
        details: { healthyAfterMs: Date.now() - startedAt },
      });
    },
  };
  return fault;
}

export const killCoordinatorMinority = (o: FaultOptions): Fault =>
  killCoordinatorMembers(
    o,
    "kill-coordinator-minority",
    "SIGKILL one of three etcd members / ZooKeeper servers; heal restarts it",
    (size) => Math.floor((size - 1) / 2),
  );

export const killCoordinatorMajority = (o: FaultOptions): Fault =>
  killCoordinatorMembers(
    o,
    "kill-coordinator-majority",
    "SIGKILL two of three etcd members / ZooKeeper servers (no quorum); heal restarts them",
    (size) => Math.floor(size / 2) + 1,
  );
