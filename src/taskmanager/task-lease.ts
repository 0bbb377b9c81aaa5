// The task lease (design, issue 3: the workers' zombie guard). Tasks of leader epoch e run only while
//   monotonicNow() < L = send time of the last registration / heartbeat answered by e's leader + heartbeat timeout.
// Heartbeats carry the TaskManager's task statuses and free slots; each answer extends the lease from the
// time its request was *sent*, so a slow answer never stretches the lease past what the leader could vouch for.
//
// The arithmetic the leader side relies on: the leader answers only while its session is valid, so every L
// it granted is at most (its session deadline + heartbeat timeout), and a new leader's gate waits out that
// timeout (or a re-registration, which follows the stop of the old tasks). For that, the old tasks must be
// *dead* by L, not merely asked to stop. So the TaskManager stops taking deploys of epoch e and cancels its
// tasks at L − cancel budget (min(500 ms, timeout / 4)) unless an answered heartbeat has moved L; a task still
// running at L itself is a fatal error (cancellation-watchdog.ts) and the process exits. An answer that
// arrives after L − budget is not waited for: it could only renew a lease whose tasks are already stopping.
import { monotonicNow, sleep } from "../common/clock.ts";
import { describeCause, InternalError, VigilError } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import type { ResourceManagerService } from "../generated/services.ts";
import { boundedCall } from "./bounded-call.ts";
import { cancelBudgetMs } from "./cancellation-watchdog.ts";
import type { Registration } from "./registration.ts";
import type { TaskExecutor } from "./task-executor.ts";

export type ResourceManagerClient = ResourceManagerService & { close(): void };

/** A registration in force: the leader's client and the lease its answers have granted so far. */
export interface ActiveRegistration {
  readonly registration: Registration;
  readonly client: ResourceManagerClient;
  /** monotonicNow() at which the lease passes (L); only ever moved forward. */
  leaseDeadline: number;
}

/** When the lease's tasks start being cancelled unless a heartbeat renews it first: L − cancel budget. */
export function cancelFrom(active: ActiveRegistration): number {
  return active.leaseDeadline - cancelBudgetMs(active.registration.heartbeatTimeoutMs);
}

/**
 * Why heartbeating stopped: the lease is about to pass without renewal, the leader answered registered=false,
 * or it answered NOT_LEADER (deposed but alive: it never renews the lease again, so it ends now).
 */
export type LeaseEnd = "lease-expired" | "unregistered" | "not-leader";

function isNotLeader(e: unknown): boolean {
  return e instanceof VigilError && e.code === "NOT_LEADER";
}

/**
 * Heartbeats every interval until the lease is about to pass (cancelFrom), the leader forgets the
 * registration or says it is no longer the leader; rejects only when `signal` aborts. Terminal task statuses a heartbeat delivered are retired from the executor.
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
    const cancelAt = cancelFrom(active);
    if (now >= cancelAt) return "lease-expired";
    if (now < nextSend) {
      await sleep(Math.min(nextSend, cancelAt) - now, signal);
      continue;
    }
    nextSend = now + registration.heartbeatIntervalMs;
    const tasks = executor.statuses(registration.epoch);
    // An answer that arrives once the lease's tasks are being cancelled comes too late: the wait ends then.
    const timeoutMs = cancelAt - now;
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
      if (isNotLeader(e)) return "not-leader";
      failures += 1;
      // The first failure says why; the lease decides what it means.
      const fields = { epoch: registration.epoch, error: describeCause(e) };
      const message = `heartbeat to ${registration.leader} failed`;
      if (failures === 1) logger.warn(message, fields);
      else logger.debug(message, fields);
    }
  }
}
