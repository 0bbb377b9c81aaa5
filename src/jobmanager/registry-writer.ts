// One leader session's writes to the TaskManager registry (key `taskmanagers`): one at a time, each fenced,
// each recording at least this leader's task lease. A TaskManager is listed before the first deployment to
// it, and unlisted once its tasks of this epoch can no longer run. A registry that could not be read at the
// grant is overwritten once every task lease granted before the grant has run out; until then nothing is
// listed, so deployments to unlisted TaskManagers wait.
import { sleep, sleepUntil } from "../common/clock.ts";
import type { EventSink } from "../common/events.ts";
import type { Logger } from "../common/logger.ts";
import { SerialQueue } from "../common/serial-queue.ts";
import type { LeaderSession } from "../ha/leader-session.ts";
import type {
  TaskManagerRegistryContents,
  TaskManagerRegistryStore,
} from "../ha/stores/task-manager-registry-store.ts";

export type TaskManagerRegistry = Pick<TaskManagerRegistryStore, "add" | "remove" | "reset">;

export interface RegistryWriterOptions {
  readonly session: LeaderSession;
  readonly registry: TaskManagerRegistry;
  /** What the grant read; undefined when the record was corrupt. */
  readonly read: TaskManagerRegistryContents | undefined;
  /** This leader's task lease: its heartbeat timeout. */
  readonly taskLeaseMs: number;
  /** Monotonic time by which every task lease granted before our grant has run out. */
  readonly leasesEndAt: number;
  /** Aborts when the session ends: no more writes. */
  readonly signal: AbortSignal;
  readonly events: EventSink;
  readonly logger: Logger;
}

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 1_000;

export class RegistryWriter {
  private readonly listed: Set<string>;
  /** True once the record holds a lease at least as long as ours: until then even listed ids need a write. */
  private leaseRecorded: boolean;
  private readonly writes = new SerialQueue();
  private started = false;

  constructor(private readonly options: RegistryWriterOptions) {
    this.listed = new Set(options.read?.taskmanagerIds);
    this.leaseRecorded = (options.read?.taskLeaseMs ?? 0) >= options.taskLeaseMs;
  }

  /** Queues the overwrite of a corrupt record first, so that every listing waits for it. Once only. */
  start(): void {
    if (this.started || this.options.read) return;
    this.started = true;
    this.writes.run(() => this.reset()).catch(() => {});
  }

  /** Lists the TaskManager (fenced) unless it is listed with our lease already. */
  async ensureListed(id: string): Promise<void> {
    if (this.listed.has(id) && this.leaseRecorded) return;
    await this.writes.run(async () => {
      if (this.listed.has(id) && this.leaseRecorded) return;
      this.options.signal.throwIfAborted();
      await this.options.registry.add([id], this.options.taskLeaseMs, this.options.session);
      this.listed.add(id);
      this.leaseRecorded = true;
    });
  }

  /** Unlists TaskManagers whose tasks of earlier leaders and of ours can no longer run (fenced). */
  unlist(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.listed.delete(id);
    return this.writes.run(async () => {
      this.options.signal.throwIfAborted();
      await this.options.registry.remove(ids, this.options.taskLeaseMs, this.options.session);
    });
  }

  private async reset(): Promise<void> {
    const { session, signal, logger } = this.options;
    await sleepUntil(this.options.leasesEndAt, signal);
    for (let delay = RETRY_MIN_MS; ; delay = Math.min(delay * 2, RETRY_MAX_MS)) {
      signal.throwIfAborted();
      try {
        await this.options.registry.reset([...this.listed], this.options.taskLeaseMs, session);
        break;
      } catch (e: unknown) {
        signal.throwIfAborted();
        logger.warn("could not overwrite the corrupt taskmanager registry; retrying", {
          epoch: session.epoch,
          error: e instanceof Error ? e.message : String(e),
        });
        await sleep(delay, signal);
      }
    }
    this.leaseRecorded = true;
    logger.error(
      "overwrote the corrupt taskmanager registry: every task lease granted before us has run out",
      {
        key: "taskmanagers",
        epoch: session.epoch,
        taskmanagers: [...this.listed],
      },
    );
    this.options.events({ event: "registry-reset", epoch: session.epoch, taskmanagers: [...this.listed] });
  }
}
