// Flink's task cancellation watchdog, adapted to the task lease. A TaskManager cannot kill a task's code: it
// aborts the task's signal and waits. A task that ignores its abort keeps running, and the safety argument
// (design, issue 3) needs every task of epoch e dead by the end of e's lease, because a new leader deploys
// elsewhere once that lease has run out. So every wait for cancelled tasks has a deadline, and a task still
// running at it is a fatal error: the process must exit (the CLI exits 70), the only way left to stop it.
import { VigilError } from "../common/errors.ts";

/** Ceiling of the cancel budget: how long before its lease ends a task is asked to stop. */
const MAX_CANCEL_BUDGET_MS = 500;

/**
 * How long before the lease end the TaskManager starts cancelling the tasks of a lease no heartbeat renewed:
 * min(500 ms, heartbeat timeout / 4). A well-behaved task stops within it, so it is dead by the lease end.
 */
export function cancelBudgetMs(heartbeatTimeoutMs: number): number {
  return Math.min(MAX_CANCEL_BUDGET_MS, heartbeatTimeoutMs / 4);
}

/**
 * Tasks did not stop by the deadline of their cancellation. Fatal: this TaskManager can no longer promise
 * that a task of an ended lease is not running, so it must exit.
 */
export class TaskCancellationTimeoutError extends VigilError {
  constructor(
    readonly taskmanager: string,
    readonly executions: readonly string[],
    readonly reason: string,
  ) {
    super(
      "INTERNAL",
      `taskmanager ${taskmanager}: task(s) ${executions.join(", ")} did not stop in time (${reason}); ` +
        "a task that ignores its abort signal may still run after its lease ended, so this TaskManager must " +
        "exit; fix the task's code to stop when its signal aborts",
    );
  }
}

/**
 * Resolves with the items whose `stopped` promise has not resolved by `deadline` (a monotonicNow() value),
 * or with [] as soon as all have. Never rejects (each `stopped` never rejects); its timer ends with it.
 */
export function awaitStops<T>(
  items: readonly T[],
  stopped: (item: T) => Promise<void>,
  deadline: number,
  now: number,
): Promise<T[]> {
  const pending = new Set(items);
  if (pending.size === 0) return Promise.resolve([]);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve([...pending]), Math.max(0, deadline - now));
    for (const item of items) {
      void stopped(item).then(() => {
        pending.delete(item);
        if (pending.size === 0) {
          clearTimeout(timer);
          resolve([]);
        }
      });
    }
  });
}
