// map.fail { afterRecords: integer ≥ 0, failAttempts?: integer ≥ 1 (default 1) }
// A test aid for restart strategies and failover, not a data operator: it passes records through unchanged,
// and on every attempt below failAttempts (attempts count from 0) it throws
// "map.fail: injected failure after N records (attempt a)" when a record beyond the first afterRecords
// arrives. The batch holding that record is not forwarded. Attempts from failAttempts on pass everything.
import type { OperatorDefinition, StreamRecord, Transform } from "./operator.ts";

/** The failure map.fail injects; a real operator error in every way that matters to the runtime. */
export class InjectedFailure extends Error {
  override readonly name = "InjectedFailure";
}

export const failMap: OperatorDefinition = {
  kind: "map.fail",
  role: "transform",
  summary:
    "passes records through; fails attempts below failAttempts after afterRecords records (a test aid)",
  configure(config) {
    const afterRecords = config.integer("afterRecords", { min: 0 });
    const failAttempts = config.optionalInteger("failAttempts", { min: 1 }) ?? 1;
    return (context) =>
      new FailMap(context.attempt < failAttempts ? afterRecords : undefined, context.attempt);
  },
};

class FailMap implements Transform {
  private seen = 0;

  /** @param failAfter records to pass before failing; undefined: this attempt never fails. */
  constructor(
    private readonly failAfter: number | undefined,
    private readonly attempt: number,
  ) {}

  async open(): Promise<void> {}

  process(batch: readonly StreamRecord[]): readonly StreamRecord[] {
    if (this.failAfter !== undefined && this.seen + batch.length > this.failAfter) {
      throw new InjectedFailure(
        `map.fail: injected failure after ${this.failAfter} records (attempt ${this.attempt})`,
      );
    }
    this.seen += batch.length;
    return batch;
  }

  async close(): Promise<void> {}
}
