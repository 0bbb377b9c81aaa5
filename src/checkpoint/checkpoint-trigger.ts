// Starting a checkpoint or savepoint of one job: whether one may start now, and with which id. Triggers run
// one at a time, so each sees the checkpoints launched before it and the ids (from the fenced counter) are
// launched in order. A stop-with-savepoint holds every other trigger off from the moment it is accepted until
// it fails: no checkpoint may follow the barrier after which its sources stop. A checkpoint starts at the
// tasks that still produce barriers (triggerTargets); when none is left there is nothing to snapshot.
import { InternalError, UnavailableError } from "../common/errors.ts";
import { SerialQueue } from "../common/serial-queue.ts";
import type { LeaderSession } from "../ha/leader-session.ts";
import type { CheckpointIdCounter } from "../ha/stores/checkpoint-id-counter.ts";
import type { CheckpointTask } from "./gateway.ts";
import { PendingCheckpoint, type SavepointTarget } from "./pending-checkpoint.ts";

export interface TriggerHost {
  /** Throws unless the coordinator is running: LifecycleError before start, CancelledError after stop. */
  assertRunning(what: string): void;
  /** The current attempt's tasks; empty while the job is not running. */
  currentTasks(): readonly CheckpointTask[];
  /** Starts collecting the acknowledgements of a checkpoint that has its id; runs inside the trigger queue. */
  launch(p: PendingCheckpoint): PendingCheckpoint;
}

export interface CheckpointTriggerOptions {
  readonly jobId: string;
  readonly session: LeaderSession;
  readonly counter: CheckpointIdCounter;
}

export class CheckpointTrigger {
  private readonly queue = new SerialQueue();
  private triggering = 0;
  /** Set while a stop-with-savepoint is in flight: no other checkpoint starts. */
  private stoppingWith: string | undefined;

  constructor(
    private readonly options: CheckpointTriggerOptions,
    private readonly host: TriggerHost,
  ) {}

  /** Triggers queued or waiting for their id (not yet launched). */
  get inFlight(): number {
    return this.triggering;
  }

  /** True while a stop-with-savepoint is in flight. */
  get stopping(): boolean {
    return this.stoppingWith !== undefined;
  }

  /**
   * Launches a checkpoint (a savepoint with `target`) once every earlier trigger is over. Rejects, launching
   * nothing, when the session ended, the coordinator is not running, a stop-with-savepoint is in flight, the
   * tasks are not all running or none is left to trigger at, or the job restarted while the id was drawn.
   */
  trigger(target?: SavepointTarget): Promise<PendingCheckpoint> {
    this.triggering++;
    return this.queue.run(async () => {
      let stopping = false;
      try {
        const { session, counter, jobId } = this.options;
        const what = target ? "a savepoint" : "a checkpoint";
        session.assertLeader();
        this.host.assertRunning(what);
        if (this.stoppingWith !== undefined) {
          throw new UnavailableError(
            `job ${jobId}: cannot take ${what}: the job is stopping with ${this.stoppingWith}`,
          );
        }
        const tasks = this.host.currentTasks();
        if (tasks.length === 0) {
          throw new UnavailableError(
            `job ${jobId}: cannot take ${what}: its tasks are not all running; retry once it runs`,
          );
        }
        if (triggerTargets(tasks).length === 0) {
          if (!tasks.some((t) => t.isSource)) {
            throw new InternalError(
              `job ${jobId}: cannot take ${what}: the running attempt has no source task`,
            );
          }
          // Sources finished and the rest drains: nothing is left to snapshot until the job ends.
          throw new UnavailableError(
            `job ${jobId}: cannot take ${what}: every task finished or waits for its inputs to end`,
          );
        }
        if (target?.stop) {
          // No periodic checkpoint may follow the stop's barrier while it is in flight.
          this.stoppingWith = "a savepoint being taken";
          stopping = true;
        }
        const id = await counter.getAndIncrement(session);
        session.assertLeader();
        this.host.assertRunning(what);
        const now = new Set(this.host.currentTasks().map((t) => t.executionId));
        if (!tasks.every((t) => now.has(t.executionId))) {
          throw new UnavailableError(`job ${jobId}: cannot take ${what}: the job restarted meanwhile; retry`);
        }
        if (stopping) this.stoppingWith = `savepoint ${id}`;
        stopping = false;
        return this.host.launch(new PendingCheckpoint(id, Date.now(), tasks, target));
      } finally {
        if (stopping) this.stoppingWith = undefined;
        this.triggering--;
      }
    });
  }

  /** A stop-with-savepoint that will not complete: periodic checkpoints go on (the tasks resume on abort). */
  endStop(p: PendingCheckpoint): void {
    if (!p.target?.stop) return;
    this.stoppingWith = undefined;
  }
}

/**
 * The tasks a checkpoint starts at (Flink's "tasks to trigger"): running sources, and running tasks all of
 * whose upstream tasks finished (their inputs ended, which counts as every later barrier).
 */
export function triggerTargets(tasks: readonly CheckpointTask[]): CheckpointTask[] {
  const finished = new Set(tasks.filter((t) => t.finished).map((t) => t.executionId));
  return tasks.filter(
    (t) =>
      !t.finished &&
      (t.isSource || ((t.upstream?.length ?? 0) > 0 && t.upstream!.every((u) => finished.has(u)))),
  );
}
