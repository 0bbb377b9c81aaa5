// The published JobManager leader, followed through leader retrieval with the monotonic time of every change:
// "time to new leader" is the moment a leader with a higher epoch is published, as any client would see it.
import { monotonicNow } from "../common/clock.ts";
import type { Logger } from "../common/logger.ts";
import type { HaConfig } from "../config/ha-config.ts";
import type { HaBackend } from "../ha/backend.ts";
import type { LeaderInfo } from "../ha/election-driver.ts";
import { createHaBackend } from "../ha/factory.ts";
import { JOBMANAGER_ELECTION } from "../ha/keys.ts";
import { LeaderRetrievalService } from "../ha/leader-retrieval-service.ts";

export interface Sighting {
  /** undefined: no leader published. */
  readonly leader: LeaderInfo | undefined;
  /** monotonicNow() when retrieval reported it. */
  readonly at: number;
}

/** Sightings kept for reports; older ones are dropped. */
const KEPT = 1_000;

export class LeaderWatch {
  private readonly seen: Sighting[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(
    private readonly backend: HaBackend,
    private readonly retrieval: LeaderRetrievalService,
  ) {}

  /** Connects and reads the current leader (reported before this resolves); close() it when done. */
  static async open(config: HaConfig, logger: Logger): Promise<LeaderWatch> {
    const backend = createHaBackend(config, logger);
    try {
      await backend.connect();
      const watch = new LeaderWatch(
        backend,
        new LeaderRetrievalService(backend.createRetrievalDriver(JOBMANAGER_ELECTION)),
      );
      await watch.retrieval.start({
        notifyLeader: (leader) => watch.record(leader),
        handleError: (e) => logger.warn("vigil drill: leader retrieval trouble", { error: e.message }),
      });
      return watch;
    } catch (e: unknown) {
      await backend.close().catch(() => undefined);
      throw e;
    }
  }

  /** The leader published now, as far as retrieval has reported. */
  get current(): LeaderInfo | undefined {
    return this.seen.at(-1)?.leader;
  }

  /** Every change reported at or after monotonic time `since`, oldest first. */
  since(since: number): readonly Sighting[] {
    return this.seen.filter((s) => s.at >= since);
  }

  /**
   * The first sighting at or after `since` whose leader satisfies `wanted`, past or future; undefined when
   * `deadline` (monotonic ms) passes or `signal` aborts first.
   */
  async waitFor(
    wanted: (leader: LeaderInfo | undefined) => boolean,
    since: number,
    deadline: number,
    signal: AbortSignal,
  ): Promise<Sighting | undefined> {
    for (;;) {
      const hit = this.since(since).find((s) => wanted(s.leader));
      if (hit || signal.aborted || monotonicNow() >= deadline) return hit;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(1, deadline - monotonicNow()));
        signal.addEventListener("abort", done, { once: true });
        this.waiters.add(done);
      });
    }
  }

  /** Idempotent. */
  async close(): Promise<void> {
    for (const wake of [...this.waiters]) wake();
    await this.retrieval.close().catch(() => undefined);
    await this.backend.close();
  }

  private record(leader: LeaderInfo | undefined): void {
    this.seen.push({ leader, at: monotonicNow() });
    if (this.seen.length > KEPT) this.seen.splice(0, this.seen.length - KEPT);
    for (const wake of [...this.waiters]) wake();
  }
}
