// How a launched checkpoint of one job ends. Completed: made durable (completion.ts), then the checkpoints it
// subsumes are aborted, the tasks are told so that sinks commit, and the files nothing references any more
// are deleted. Aborted (failed, declined, timed out, subsumed, or its attempt gone): the tasks are told and
// the states acknowledged so far are deleted; ids of aborted checkpoints are remembered so that the states of
// their late acknowledgements can be deleted too. Either way the checkpoint leaves the pending table, its
// caller's promise settles, the failure count moves and a held-back periodic trigger may go.
import { monotonicNow } from "../common/clock.ts";
import { CancelledError, InternalError, isLeadershipLoss } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import type { OperatorSubtaskState } from "../generated/records.ts";
import type { LeaderSession } from "../ha/leader-session.ts";
import type { CompletedCheckpointStore } from "../ha/stores/completed-checkpoint-store.ts";
import type { FileBlobStore } from "../storage/blob-store.ts";
import type { CheckpointFiles } from "./checkpoint-files.ts";
import { completeCheckpoint } from "./completion.ts";
import type { CheckpointFailureCounter } from "./failure-counter.ts";
import { describeCheckpoint, type PendingCheckpoint, stateRefs } from "./pending-checkpoint.ts";
import type { PeriodicTrigger } from "./periodic-trigger.ts";
import type { TaskMessenger } from "./task-messenger.ts";

/** Aborted ids remembered so that their late acknowledgements' states can be deleted. */
const REMEMBERED_ABORTS = 256;

export interface CheckpointOutcomesOptions {
  readonly jobId: string;
  readonly session: LeaderSession;
  readonly store: CompletedCheckpointStore;
  readonly blobs: FileBlobStore;
  readonly files: CheckpointFiles;
  readonly messenger: TaskMessenger;
  readonly failures: CheckpointFailureCounter;
  readonly periodic: PeriodicTrigger;
  /** The checkpoints in flight, shared with the coordinator: launched ones are added there, removed here. */
  readonly pending: Map<bigint, PendingCheckpoint>;
  /** False once the coordinator stopped: a completion is then no longer notified. */
  readonly running: () => boolean;
  /** Aborts when the coordinator stops: ends the deliveries that retry. */
  readonly stopped: AbortSignal;
  /** A stop-with-savepoint that will not complete (checkpoint-trigger.ts). */
  readonly endStop: (p: PendingCheckpoint) => void;
  readonly emit: (event: string, p: PendingCheckpoint, fields?: Record<string, unknown>) => void;
  /** Work that the coordinator's stop() waits for; it never rejects. */
  readonly track: (work: Promise<void>) => void;
  readonly logger: Logger;
}

export class CheckpointOutcomes {
  private readonly aborted: bigint[] = [];
  /** Per task, the states of the newest completed checkpoint it acknowledged: a finished task's acks. */
  private readonly lastCompleted = new Map<string, readonly OperatorSubtaskState[]>();

  constructor(private readonly options: CheckpointOutcomesOptions) {}

  /** True when `checkpointId` was aborted recently (its late acks' states are to be deleted). */
  wasAborted(checkpointId: bigint): boolean {
    return this.aborted.includes(checkpointId);
  }

  /** The states `executionId` acknowledged in the newest completed checkpoint that included it. */
  lastCompletedStates(executionId: string): readonly OperatorSubtaskState[] | undefined {
    return this.lastCompleted.get(executionId);
  }

  /** Completes a fully acknowledged checkpoint; a failure to make it durable aborts it. */
  async complete(p: PendingCheckpoint): Promise<void> {
    p.phase = "completing";
    clearTimeout(p.timeout);
    const { jobId, session, store, blobs, files } = this.options;
    const outcome = await completeCheckpoint({ jobId, session, store, blobs, files }, p);
    this.options.pending.delete(p.checkpointId);
    p.phase = "done";
    if (outcome.kind === "failed") {
      this.options.endStop(p);
      this.options.emit("checkpoint-aborted", p, { reason: outcome.reason });
      this.options.logger.warn(`${this.describe(p)} failed`, { reason: outcome.reason });
      // When the pointer may exist the tasks must keep what they staged: a restore may still need it.
      if (!outcome.outcomeUnknown) this.tellTasksAborted(p, outcome.reason);
      const lost = isLeadershipLoss(outcome.cause);
      p.reject(
        lost
          ? (outcome.cause as Error)
          : new InternalError(`${this.describe(p)}: ${outcome.reason}`, outcome.cause),
      );
      if (!lost && !p.savepoint) this.options.failures.failed(outcome.reason);
      this.options.periodic.wake();
      return;
    }
    this.options.failures.succeeded();
    this.options.periodic.completed();
    const durationMs = Math.round(monotonicNow() - p.startedAt);
    const path = outcome.path;
    this.options.emit("checkpoint-completed", p, {
      durationMs,
      bytes: outcome.bytes,
      ...(p.savepoint && { savepoint: true, path }),
    });
    this.options.logger.info(`completed ${this.describe(p)}`, { durationMs, bytes: outcome.bytes, path });
    if (path !== undefined) p.resolve({ checkpointId: p.checkpointId, path });
    if (p.committing) {
      for (const t of p.tasks) {
        const states = p.statesOf(t.executionId);
        if (states !== undefined) this.lastCompleted.set(t.executionId, states);
      }
      for (const q of [...this.options.pending.values()]) {
        if (q.savepoint || q.checkpointId > p.checkpointId || q.phase !== "pending") continue;
        const reason = `subsumed by completed checkpoint ${p.checkpointId}`;
        this.abort(q, reason, new CancelledError(`${this.describe(q)}: ${reason}`), false);
      }
      this.notifyComplete(p);
      await files.discard(outcome.subsumed, outcome.retainedIds);
    }
  }

  /** Aborts a checkpoint that is still collecting acks: tells the tasks, deletes the acked states. */
  abort(p: PendingCheckpoint, reason: string, error: Error, countsAsFailure: boolean): void {
    if (p.phase !== "pending") return;
    p.phase = "done";
    this.options.endStop(p);
    clearTimeout(p.timeout);
    this.options.pending.delete(p.checkpointId);
    this.aborted.push(p.checkpointId);
    if (this.aborted.length > REMEMBERED_ABORTS) this.aborted.shift();
    this.options.emit("checkpoint-aborted", p, { reason });
    this.options.logger.info(`aborted ${this.describe(p)}`, { reason });
    this.tellTasksAborted(p, reason);
    this.options.track(this.options.files.deleteUnreferenced(stateRefs(p.states()), this.describe(p)));
    p.reject(error);
    if (countsAsFailure && !p.savepoint) this.options.failures.failed(reason);
    this.options.periodic.wake();
  }

  private notifyComplete(p: PendingCheckpoint): void {
    if (!this.options.running() || !this.options.session.isValid()) return;
    // The stopped sources end only on this notification, and no later checkpoint will carry it: retry it.
    const retryUntil = p.target?.stop ? this.options.stopped : undefined;
    this.options.track(this.options.messenger.notifyComplete(p, retryUntil));
  }

  private tellTasksAborted(p: PendingCheckpoint, reason: string): void {
    if (this.options.session.isValid()) this.options.messenger.abort(p, reason);
  }

  private describe(p: PendingCheckpoint): string {
    return describeCheckpoint(p, this.options.jobId);
  }
}
