// The nemesis catalogue: every fault by its --nemesis name, and the cluster a set of faults needs.
import { InvalidArgumentError } from "../../src/common/errors.ts";
import { killCoordinatorMajority, killCoordinatorMinority } from "./coordinator-faults.ts";
import type { Fault, FaultFactory, FaultOptions } from "./fault.ts";
import { killAllJobManagers, killLeader, pauseLeader, stopLeader } from "./jobmanager-faults.ts";
import { dropReplies, partitionLeader } from "./network-faults.ts";
import { replayStaleWrite } from "./stale-write.ts";
import { killAllTaskManagers, killHalfTaskManagers, killTaskManager } from "./taskmanager-faults.ts";

export { ChaosCluster, type LeaderView, type WaitOptions } from "./chaos-cluster.ts";
export type {
  Fault,
  FaultFactory,
  FaultInfo,
  FaultOptions,
  FaultRequirements,
  JsonValue,
  NemesisContext,
} from "./fault.ts";

/** Every fault by name. A factory builds a fresh fault: inject remembers its victims for heal. */
export const FAULTS = {
  "kill-leader": killLeader,
  "kill-all-jobmanagers": killAllJobManagers,
  "pause-leader": pauseLeader,
  "stop-leader": stopLeader,
  "kill-taskmanager": killTaskManager,
  "kill-taskmanagers": killHalfTaskManagers,
  "kill-all-taskmanagers": killAllTaskManagers,
  "kill-coordinator-minority": killCoordinatorMinority,
  "kill-coordinator-majority": killCoordinatorMajority,
  "partition-leader": partitionLeader,
  "drop-replies": dropReplies,
  "replay-stale-write": replayStaleWrite,
} as const satisfies Readonly<Record<string, FaultFactory>>;

export type FaultName = keyof typeof FAULTS;

export const FAULT_NAMES = Object.keys(FAULTS) as readonly FaultName[];

export function isFaultName(name: string): name is FaultName {
  return Object.hasOwn(FAULTS, name);
}

/** Fresh faults for `names` (e.g. from --nemesis a,b); an unknown name is an error listing the valid ones. */
export function faultsFor(names: readonly string[], options: FaultOptions): Fault[] {
  const unknown = names.filter((n) => !isFaultName(n));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(
      `unknown nemesis ${unknown.map((n) => `"${n}"`).join(", ")}; valid names: ${FAULT_NAMES.join(", ")}`,
    );
  }
  return names.map((n) => FAULTS[n as FaultName](options));
}

/** The LocalCluster options that `faults` need (a three-member coordinator, coordinator proxies). */
export function requirementsOf(faults: readonly Fault[]): {
  readonly coordinatorMembers: 1 | 3;
  readonly proxyCoordinator: boolean;
} {
  return {
    coordinatorMembers: faults.some((f) => f.requires?.coordinatorMembers === 3) ? 3 : 1,
    proxyCoordinator: faults.some((f) => f.requires?.proxyCoordinator === true),
  };
}
