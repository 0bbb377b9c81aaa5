// The task lease (design, issue 3: the workers' zombie guard). Tasks of leader epoch e run only while
//   monotonicNow() < send time of the last registration / heartbeat answered by e's leader + heartbeat timeout.
// Heartbeats carry the TaskManager's task statuses and free slots; each answer extends the lease from the
// time its request was *sent*, so a slow answer never stretches the lease past what the leader could vouch for.
import { monotonicNow, sleep } from "../common/clock.ts";
import { describeCause, InternalError } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import type { ResourceManagerService } from "../generated/services.ts";
import { boundedCall } from "./bounded-call.ts";
import type { Registration } from "./registration.ts";
import type { TaskExecutor } from "./task-executor.ts";

export type ResourceManagerClient = ResourceManagerService & { close(): void };

/** A registration in force: the leader's client and the lease its answers have granted so far. */
export interface ActiveRegistration {
  readonly registration: Registration;
  readonly client: ResourceManagerClient;
  /** monotonicNow() at which the lease passes; only ever moved forward. */
  leaseDeadline: number;
}

/** Why heartbeating stopped: the lease passed, or the leader answered registered=false. */
export type LeaseEnd = "lease-expired" | "unregistered";

/**
 * Heartbeats every interval until the lease passes or the leader forgets the registration; rejects only when
 * `signal` aborts. Terminal task statuses a heartbeat delivered are retired from the executor.
 */
export async function heartbeatUntilLeaseEnds(
  active: ActiveRegistration,
  options: { readonly id: string; readonly executor: TaskExecutor; readonly logger: Logger },
  signal: AbortSignal,
): Promise<LeaseEnd> {
  const { executor, logger } = options;
  const { registration, client } = active;
  let nextSend = monotonicNow() + registration.heartbeatIntervalMs;
  let failures = 0;
  for (;;) {
    const now = monotonicNow();
    if (now >= active.leaseDeadline) return "lease-expired";
    if (now < nextSend) {
      await sleep(Math.min(nextSend, active.leaseDeadline) - now, signal);
      continue;
    }
    nextSend = now + registration.heartbeatIntervalMs;
    const tasks = executor.statuses(registration.epoch);
    // An answer that arrives after the lease passed proves nothing: the wait ends with the lease.
    const timeoutMs = active.leaseDeadline - now;
    try {
      const response = await boundedCall(
        (s) =>
          client.heartbeat(
            {
              taskmanagerId: options.id,
              registrationId: registration.registrationId,
              epoch: registration.epoch,
              tasks,
              freeSlots: executor.freeSlots,
            },
            { signal: s, timeoutMs },
          ),
        { signal, timeoutMs, what: `heartbeat to ${registration.leader}` },
      );
      signal.throwIfAborted();
      if (!response.registered) return "unregistered";
      if (response.epoch !== registration.epoch) {
        throw new InternalError(
          `${registration.leader} answered a heartbeat with epoch ${response.epoch}; registered with epoch ${registration.epoch}`,
        );
      }
      active.leaseDeadline = Math.max(active.leaseDeadline, now + registration.heartbeatTimeoutMs);
      failures = 0;
      executor.retire(tasks.map((t) => t.executionId));
    } catch (e: unknown) {
      if (signal.aborted) throw signal.reason;
      failures += 1;
      // The first failure says why; the lease decides what it means.
      const fields = { epoch: registration.epoch, error: describeCause(e) };
      const message = `heartbeat to ${registration.leader} failed`;
      if (failures === 1) logger.warn(message, fields);
      else logger.debug(message, fields);
    }
  }
}
