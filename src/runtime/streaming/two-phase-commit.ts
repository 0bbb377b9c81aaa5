// Runs a TwoPhaseCommitSink as a streaming operator (Flink's TwoPhaseCommitSinkFunction): the committables of
// every pre-committed transaction not yet committed are in operator state ("union": after a rescale every
// subtask gets all of them and re-commits them, commit being idempotent). Checkpoint n's snapshot holds the
// committables of n and of every earlier checkpoint whose completion was not seen yet, so:
//   - notifyCheckpointComplete(n) commits all committables of checkpoints ≤ n (an aborted checkpoint's
//     transaction is committed with the next completed one; its data precedes that checkpoint's barrier too);
//   - on restore from checkpoint n, every restored committable belongs to a checkpoint ≤ n, which completed:
//     all are committed again, then the sink discards whatever else earlier attempts left uncommitted.
// At end of input with checkpointing on, the last transaction is pre-committed and waits for the final
// checkpoint (the task runs until one completes); without checkpointing it is committed at once.

import type { ListState } from "../../state/operator-state.ts";
import type { StreamRecord } from "./elements.ts";
import type { RestoreInfo, StreamOperator, StreamOperatorContext, TwoPhaseCommitSink } from "./operators.ts";

/** The operator-state list holding pending committables. */
export const COMMITTABLES_STATE = "committables";

interface Pending<C> {
  readonly checkpointId: bigint;
  readonly committable: C;
}

export class TwoPhaseCommitSinkOperator<C> implements StreamOperator {
  private state!: ListState<Pending<C>>;
  private checkpointing = true;
  private pending: Pending<C>[] = [];
  /** Pre-committed at end of input, waiting for the next snapshot to give them a checkpoint. */
  private unassigned: C[] = [];

  constructor(readonly sink: TwoPhaseCommitSink<C>) {}

  async open(context: StreamOperatorContext): Promise<void> {
    this.checkpointing = context.checkpointing;
    this.state = context.operatorState.list<Pending<C>>(COMMITTABLES_STATE, "union");
    await this.sink.open(context);
  }

  async initializeState(restore: RestoreInfo): Promise<void> {
    const restored = restore.checkpointId === undefined ? [] : this.state.get().map((p) => p.committable);
    if (restored.length > 0) await this.sink.commit(restored);
    await this.sink.discardUncommitted(restored, restore);
    this.state.clear();
  }

  async processBatch(records: readonly StreamRecord[]): Promise<void> {
    await this.sink.write(records);
  }

  async snapshotState(checkpointId: bigint): Promise<void> {
    const committable = await this.sink.preCommit();
    if (committable !== undefined) this.unassigned.push(committable);
    for (const c of this.unassigned) this.pending.push({ checkpointId, committable: c });
    this.unassigned = [];
    this.state.update(this.pending);
  }

  async notifyCheckpointComplete(checkpointId: bigint): Promise<void> {
    const due = this.pending.filter((p) => p.checkpointId <= checkpointId);
    if (due.length === 0) return;
    await this.sink.commit(due.map((p) => p.committable));
    this.pending = this.pending.filter((p) => p.checkpointId > checkpointId);
  }

  async abort(_checkpointId: bigint): Promise<void> {}

  async finish(): Promise<void> {
    const committable = await this.sink.preCommit();
    if (committable !== undefined) this.unassigned.push(committable);
    if (!this.checkpointing) {
      await this.sink.commit([...this.pending.map((p) => p.committable), ...this.unassigned]);
      this.pending = [];
      this.unassigned = [];
    }
  }

  async close(): Promise<void> {
    await this.sink.close();
  }
}
