// Tombstones of executions that are no longer in the TaskExecutor's task table. A leader retries deploys and
// a cancel can overtake the deploy it cancels (two calls, no ordering between them): without a record of the
// ids it has done with, a TaskManager would run a late or retried deploy of an execution that already ran or
// was cancelled. The record is bounded: the oldest ids are forgotten past the limit.

/**
 * "stopped" after a terminal task was reported (a retried deploy answers at once), "cancelled" when a cancel
 * arrived before the deploy (the deploy is refused).
 */
export type Retired = "stopped" | "cancelled";

const RETIRED_LIMIT = 4_096;

export class RetiredExecutions {
  private readonly retired = new Map<string, Retired>();

  has(executionId: string): boolean {
    return this.retired.has(executionId);
  }

  /** True when a cancel of `executionId` arrived before any deploy of it: a deploy of it must be refused. */
  cancelledBeforeDeploy(executionId: string): boolean {
    return this.retired.get(executionId) === "cancelled";
  }

  /** Records `executionId` (replacing an earlier record), forgetting the oldest past the limit. */
  remember(executionId: string, how: Retired): void {
    this.retired.set(executionId, how);
    if (this.retired.size > RETIRED_LIMIT) {
      const oldest = this.retired.keys().next();
      if (!oldest.done) this.retired.delete(oldest.value);
    }
  }
}
