// map.fail { afterRecords: integer ≥ 0, failAttempts?: integer ≥ 1 (default 1) }
// A test aid for restart strategies and failover, not a data operator: it passes records through unchanged,
// and on every attempt below failAttempts (attempts count from 0) it throws
// "map.fail: injected failure after N records (attempt a)" when a record beyond the first afterRecords
// arrives. The batch holding that record is not forwarded. Attempts from failAttempts on pass everything.
import type { StreamRecord } from "./elements.ts";
import { BaseOperator, type StreamOperatorDefinition } from "./operators.ts";

/** The failure map.fail injects; a real operator error in every way that matters to the runtime. */
export class InjectedFailure extends Error {
  override readonly name = "InjectedFailure";
}

export const failMap: StreamOperatorDefinition = {
  kind: "map.fail",
  role: "operator",
  summary:
    "passes records through; fails attempts below failAttempts after afterRecords records (a test aid)",
  configure(config) {
    const afterRecords = config.integer("afterRecords", { min: 0 });
    const failAttempts = config.optionalInteger("failAttempts", { min: 1 }) ?? 1;
    return () => new FailMap(afterRecords, failAttempts);
  },
};

class FailMap extends BaseOperator {
  private seen = 0;

  constructor(
    private readonly afterRecords: number,
    private readonly failAttempts: number,
  ) {
    super();
  }

  processBatch(records: readonly StreamRecord[]): void {
    const { attempt } = this.context;
    if (attempt < this.failAttempts && this.seen + records.length > this.afterRecords) {
      throw new InjectedFailure(
        `map.fail: injected failure after ${this.afterRecords} records (attempt ${attempt})`,
      );
    }
    this.seen += records.length;
    for (const record of records) this.context.output.collect(record);
  }
}
