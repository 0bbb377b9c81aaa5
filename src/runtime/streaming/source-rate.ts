// A source subtask's rate limit, in records per second counted from start(): the source asks how many records
// are due before each batch, sleeping until at least one is. A subtask that fell behind catches up in batches
// of at most `maxBatch`; a restored one counts from its restore, so it never bursts to make up for downtime.
import { monotonicNow, sleep } from "../../common/clock.ts";

export class SourceRate {
  private startedAt = monotonicNow();
  private emitted = 0;

  constructor(
    readonly perSecond: number,
    private readonly maxBatch: number,
  ) {}

  start(): void {
    this.startedAt = monotonicNow();
    this.emitted = 0;
  }

  /** How many records are due now (1..maxBatch), after sleeping until the next one is. */
  async due(signal: AbortSignal): Promise<number> {
    for (;;) {
      const elapsed = monotonicNow() - this.startedAt;
      const due = Math.floor((elapsed * this.perSecond) / 1000) + 1 - this.emitted;
      if (due > 0) return Math.min(due, this.maxBatch);
      const nextAt = (this.emitted * 1000) / this.perSecond;
      await sleep(Math.max(1, Math.ceil(nextAt - elapsed)), signal);
    }
  }

  /** `n` records were emitted. */
  emit(n: number): void {
    this.emitted += n;
  }
}
