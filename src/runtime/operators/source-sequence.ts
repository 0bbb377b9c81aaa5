// source.sequence { count: integer ≥ 0 (0 = unbounded), ratePerSecond?: number > 0 }
// Subtask i of p emits i+1, i+1+p, i+1+2p, … up to count, so all subtasks together emit 1..count exactly once.
// ratePerSecond applies per subtask: the n-th record (from 0) is due n/rate seconds after open(); a subtask
// that fell behind catches up in batches. Waiting is an abortable sleep, so a cancel ends it at once even for
// an unbounded, rate-limited source.
import { monotonicNow, sleep } from "../../common/clock.ts";
import type { OperatorContext, OperatorDefinition, Source } from "./operator.ts";

const BATCH = 256;

export interface SequenceConfig {
  /** Last value of the whole sequence; 0 = unbounded. */
  readonly count: number;
  readonly ratePerSecond: number | undefined;
}

export const sequenceSource: OperatorDefinition = {
  kind: "source.sequence",
  role: "source",
  summary: "emits 1..count (0 = unbounded), split across subtasks, optionally rate-limited per subtask",
  configure(config) {
    const settings: SequenceConfig = {
      count: config.integer("count", { min: 0 }),
      ratePerSecond: config.optionalNumber("ratePerSecond", { above: 0 }),
    };
    return (context) => new SequenceSource(settings, context);
  },
};

export class SequenceSource implements Source {
  private nextValue: number;
  private emitted = 0;
  private startedAt = 0;

  constructor(
    private readonly config: SequenceConfig,
    private readonly context: OperatorContext,
  ) {
    this.nextValue = context.subtask + 1;
  }

  async open(): Promise<void> {
    this.startedAt = monotonicNow();
  }

  async next(): Promise<readonly number[] | undefined> {
    const { count, ratePerSecond } = this.config;
    if (count > 0 && this.nextValue > count) return undefined;
    const size = ratePerSecond === undefined ? BATCH : await this.due(ratePerSecond);
    const step = this.context.parallelism;
    const batch: number[] = [];
    while (batch.length < size && (count === 0 || this.nextValue <= count)) {
      batch.push(this.nextValue);
      this.nextValue += step;
    }
    this.emitted += batch.length;
    return batch;
  }

  async close(): Promise<void> {}

  /** How many records are due now (at least 1), after sleeping until the next one is. */
  private async due(rate: number): Promise<number> {
    for (;;) {
      const elapsed = monotonicNow() - this.startedAt;
      const due = Math.floor((elapsed * rate) / 1000) + 1 - this.emitted;
      if (due > 0) return Math.min(due, BATCH);
      const nextAt = (this.emitted * 1000) / rate;
      await sleep(Math.max(1, Math.ceil(nextAt - elapsed)), this.context.signal);
    }
  }
}
