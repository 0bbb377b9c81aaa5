// How long to wait before restarting a failed job, and when to give up: Flink's restart strategies
// (RestartBackoffTimeStrategy). Pure: the caller passes the (monotonic) time of each failure.
//   none              never restarts.
//   fixed-delay       restarts `attempts` times, each after `delayMs`; the next failure gives up.
//   exponential-delay the first restart waits `initialBackoffMs`; each further one multiplies the backoff by
//                     `multiplier` up to `maxBackoffMs`. A failure that comes `resetBackoffThresholdMs` or more
//                     after the previous restart (the job ran stably in between) starts over from the initial
//                     backoff and a fresh attempt count. `jitter` (a fraction) spreads each delay by ±jitter of
//                     it. Gives up after `attempts` restarts without a reset (Infinity: never).
import type { RestartStrategyConfig } from "../runtime/job-config.ts";

export interface RestartBackoff {
  /** A failure at `now` (ms): the delay before the restart, or undefined when the job must fail for good. */
  onFailure(now: number): number | undefined;
}

/** `random` returns values in [0, 1) (injectable for tests). */
export function restartBackoff(
  config: RestartStrategyConfig,
  random: () => number = Math.random,
): RestartBackoff {
  switch (config.type) {
    case "none":
      return { onFailure: () => undefined };
    case "fixed-delay":
      return new FixedDelay(config.attempts, config.delayMs);
    case "exponential-delay":
      return new ExponentialDelay(config, random);
  }
}

class FixedDelay implements RestartBackoff {
  private failures = 0;

  constructor(
    private readonly attempts: number,
    private readonly delayMs: number,
  ) {}

  onFailure(): number | undefined {
    this.failures += 1;
    return this.failures <= this.attempts ? this.delayMs : undefined;
  }
}

type ExponentialConfig = Extract<RestartStrategyConfig, { type: "exponential-delay" }>;

class ExponentialDelay implements RestartBackoff {
  private backoffMs = 0;
  private attemptsSinceReset = 0;
  /** When the previous restart happened (its failure time plus its delay); undefined before the first one. */
  private restartedAt: number | undefined;

  constructor(
    private readonly config: ExponentialConfig,
    private readonly random: () => number,
  ) {}

  onFailure(now: number): number | undefined {
    const c = this.config;
    if (this.restartedAt === undefined || now - this.restartedAt >= c.resetBackoffThresholdMs) {
      this.backoffMs = c.initialBackoffMs;
      this.attemptsSinceReset = 0;
    } else {
      this.backoffMs = Math.min(this.backoffMs * c.multiplier, c.maxBackoffMs);
    }
    this.attemptsSinceReset += 1;
    if (this.attemptsSinceReset > c.attempts) return undefined;
    // Jitter only spreads this delay; the backoff itself keeps growing from its unjittered value.
    const spread = this.backoffMs * c.jitter * (2 * this.random() - 1);
    const delay = Math.round(Math.max(0, Math.min(this.backoffMs + spread, c.maxBackoffMs)));
    this.restartedAt = now + delay;
    return delay;
  }
}
