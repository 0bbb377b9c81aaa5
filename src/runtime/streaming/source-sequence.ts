// source.sequence { count: integer ≥ 0 (0 = unbounded), ratePerSecond?: number > 0 }
// Emits 1..count split across subtasks as in issue 3: subtask i of p starts at i+1 and steps by p. The position
// is a list of splits {next, step} in operator state ("round-robin"), so a restore with another parallelism
// deals the old subtasks' splits out to the new ones and the sequence still comes out exactly once.
// ratePerSecond applies per subtask, counted from open(): a subtask that fell behind catches up in batches.
import type { ListState } from "../../state/operator-state.ts";
import {
  BaseSource,
  type RestoreInfo,
  type StreamOperatorContext,
  type StreamOperatorDefinition,
} from "./operators.ts";
import { SourceRate } from "./source-rate.ts";

const BATCH = 256;

export interface SequenceSplit {
  /** The next value to emit. */
  readonly next: number;
  readonly step: number;
}

export interface SequenceConfig {
  /** Last value of the whole sequence; 0 = unbounded. */
  readonly count: number;
  readonly ratePerSecond: number | undefined;
}

export const sequenceSource: StreamOperatorDefinition = {
  kind: "source.sequence",
  role: "source",
  summary: "emits 1..count (0 = unbounded), split across subtasks, position in checkpoints",
  configure(config) {
    const settings: SequenceConfig = {
      count: config.integer("count", { min: 0 }),
      ratePerSecond: config.optionalNumber("ratePerSecond", { above: 0 }),
    };
    return () => new SequenceSource(settings);
  },
};

export class SequenceSource extends BaseSource {
  private state!: ListState<SequenceSplit>;
  private splits: { next: number; step: number }[] = [];
  private readonly rate: SourceRate | undefined;

  constructor(private readonly config: SequenceConfig) {
    super();
    this.rate = config.ratePerSecond === undefined ? undefined : new SourceRate(config.ratePerSecond, BATCH);
  }

  override async open(context: StreamOperatorContext): Promise<void> {
    await super.open(context);
    this.state = context.operatorState.list<SequenceSplit>("splits", "round-robin");
  }

  override async initializeState(restore: RestoreInfo): Promise<void> {
    const { subtask, parallelism } = this.context;
    this.splits =
      restore.checkpointId === undefined
        ? [{ next: subtask + 1, step: parallelism }]
        : this.state.get().map((s) => ({ ...s }));
    this.rate?.start();
  }

  override snapshotState(): void {
    this.state.update(this.splits.map((s) => ({ ...s })));
  }

  async next(): Promise<readonly number[] | undefined> {
    const { count } = this.config;
    const done = (s: { next: number }): boolean => count > 0 && s.next > count;
    while (this.splits.length > 0 && done(this.splits[0]!)) this.splits.shift();
    const split = this.splits[0];
    if (split === undefined) return undefined;
    const size = this.rate === undefined ? BATCH : await this.rate.due(this.context.signal);
    const batch: number[] = [];
    while (batch.length < size && !done(split)) {
      batch.push(split.next);
      split.next += split.step;
    }
    this.rate?.emit(batch.length);
    return batch;
  }
}
