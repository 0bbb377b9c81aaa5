// When to trigger the next periodic checkpoint (Flink's CheckpointRequestDecider, simplified): at most one
// per interval, not before min pause has passed since the last completed checkpoint, and only while fewer
// than max concurrent checkpoints are in flight. A trigger held back waits for wake(); a decision also runs
// at least once per interval so that the host can notice a restarted attempt.
import { monotonicNow } from "../common/clock.ts";
import type { CheckpointConfig } from "./config.ts";

export interface PeriodicHost {
  /** True when a checkpoint could be taken now (tasks running, session valid). */
  ready(): boolean;
  /** Checkpoints and savepoints being triggered or pending. */
  inFlight(): number;
  /** Triggers one periodic checkpoint. */
  fire(): void;
}

export class PeriodicTrigger {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private nextAt = 0;
  private lastCompletedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly config: Pick<CheckpointConfig, "intervalMs" | "minPauseMs" | "maxConcurrent">,
    private readonly host: PeriodicHost,
  ) {}

  /** First decision one interval from now. No effect when periodic checkpoints are disabled. */
  start(): void {
    if (this.config.intervalMs === 0) return;
    this.running = true;
    this.nextAt = monotonicNow() + this.config.intervalMs;
    this.arm(this.config.intervalMs);
  }

  /** Idempotent. */
  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** A checkpoint completed: the min pause starts now. */
  completed(): void {
    this.lastCompletedAt = monotonicNow();
    this.wake();
  }

  /** Something ended: decide again now (a trigger held back by max concurrent may go). */
  wake(): void {
    if (this.running) this.arm(0);
  }

  private decide(): void {
    this.timer = undefined;
    if (!this.running) return;
    const { intervalMs, minPauseMs, maxConcurrent } = this.config;
    // Flink: a min pause implies one checkpoint at a time, since the pause starts when one completes.
    const limit = minPauseMs > 0 ? 1 : maxConcurrent;
    if (!this.host.ready() || this.host.inFlight() >= limit) {
      this.arm(intervalMs);
      return;
    }
    const now = monotonicNow();
    const due = Math.max(this.nextAt, this.lastCompletedAt + minPauseMs);
    if (now < due) {
      this.arm(due - now);
      return;
    }
    this.nextAt = now + intervalMs;
    this.arm(intervalMs);
    this.host.fire();
  }

  private arm(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.decide(), delayMs);
  }
}
