// Faults on TaskManager processes: SIGKILL one, half (at least one) or all of them. The leader must notice
// (heartbeat timeout), restart the affected jobs on what is left or wait for slots; heals start replacements.
import type { Member } from "../../src/local/vigil-cluster.ts";
import { type Fault, type FaultOptions, pick, restoreAndSettle } from "./fault.ts";

function killTaskManagers(
  o: FaultOptions,
  name: string,
  description: string,
  howMany: (live: number) => number,
): Fault {
  return {
    name,
    description,
    async inject(ctx) {
      const live = ctx.cluster.taskmanagers();
      const victims: Member[] = pick(ctx, live, howMany(live.length));
      await Promise.all(victims.map((m) => ctx.cluster.kill(m)));
      const leader = ctx.cluster.leader();
      return {
        fault: name,
        victims: victims.map((m) => m.name),
        ...(leader && { epoch: String(leader.epoch) }),
      };
    },
    heal: (ctx) => restoreAndSettle(ctx, o, { fault: name, victims: [] }),
  };
}

export const killTaskManager = (o: FaultOptions): Fault =>
  killTaskManagers(o, "kill-taskmanager", "SIGKILL one TaskManager; heal starts a replacement", () => 1);

export const killHalfTaskManagers = (o: FaultOptions): Fault =>
  killTaskManagers(
    o,
    "kill-taskmanagers",
    "SIGKILL half the TaskManagers (at least one); heal starts replacements",
    (live) => Math.max(1, Math.floor(live / 2)),
  );

export const killAllTaskManagers = (o: FaultOptions): Fault =>
  killTaskManagers(
    o,
    "kill-all-taskmanagers",
    "SIGKILL every TaskManager; heal starts the configured number again",
    (live) => live,
  );
