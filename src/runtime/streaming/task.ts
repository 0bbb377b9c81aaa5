// One streaming subtask (a chain of operators) run as a mailbox loop, as Flink's StreamTask: records from the
// source or the input channels go through the chain and out through the partitioners; checkpoint commands
// (trigger, complete, abort) are posted to the mailbox and run between two batches, so operator code is never
// called concurrently. Checkpoint n: the chain snapshots synchronously (operators fill their state stores,
// which are encoded at once), barrier n goes to every output, and the state is written to file storage in the
// background, then acked (blob first, pointer second). Input tasks take the snapshot once barrier n aligned
// on all channels (inputs.ts); source tasks when triggered.
//
// End of input (FLIP-147, with "end" playing Flink's EndOfPartition): the operators finish (sinks pre-commit
// what they hold). With checkpointing on, a source task then keeps its outputs open and waits: the next
// trigger snapshots its finished state and sends that final barrier downstream; once that checkpoint completed
// it sends "end". So every task downstream has seen the final barrier before "end", and after its own finish
// waits only until its last snapshot is complete (so its sinks committed) before it ends too. Triggers go to
// source tasks; a task whose inputs all ended also snapshots on a trigger, and one whose inputs are open keeps
// the latest trigger for the case they end without its barrier. Cancellation (the signal) stops the loop
// within one batch; run settles only after no operator code runs any more.
//
// Stop-with-savepoint (Flink's synchronous savepoint, without drain): a source task triggered with
// "stop-savepoint" emits that barrier and then nothing more; once the savepoint is notified complete (its
// sinks committed) it sends "end" without finishing its operators, so the job ends with nothing after the
// savepoint; an abort of the savepoint resumes the source.
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { monotonicNow } from "../../common/clock.ts";
import type {
  InputGateDescriptor,
  OperatorSubtaskState,
  OutputDescriptor,
  ProducerLocation,
  TaskDescriptor,
} from "../../generated/records.ts";
import { writeOperatorState } from "../../state/snapshot.ts";
import type { FileBlobStore } from "../../storage/blob-store.ts";
import { OperatorChain, type OperatorSnapshot } from "./chain.ts";
import type { InputChannel, OutputChannel, StreamRecord } from "./elements.ts";
import { type Barrier, InputReader, Waker } from "./inputs.ts";
import type { FunctionLookup } from "./operators.ts";
import { createPartitioner, RecordWriter } from "./partitioners.ts";
import { builtInStreamOperators, type StreamOperatorRegistry } from "./registry.ts";

export interface StreamTaskContext {
  readonly task: TaskDescriptor;
  /** Aborted = cancel: stop promptly (< 100 ms). */
  readonly signal: AbortSignal;
  /** File storage for state snapshots (and the restore's blobs). */
  readonly blobs: FileBlobStore;
  readonly functions: FunctionLookup;
  /** The channel from one producer subtask of an input gate to this subtask. */
  readonly openInput: (gate: InputGateDescriptor, producer: ProducerLocation) => InputChannel;
  /** The channel of one subpartition (consumer subtask) of an output. */
  readonly openOutput: (output: OutputDescriptor, subpartition: number) => OutputChannel;
  /** The task's state for checkpoint n is in file storage: report it. Must not throw. */
  readonly ack: (checkpointId: bigint, states: OperatorSubtaskState[]) => void;
  /** The task cannot take part in checkpoint n. Must not throw. */
  readonly decline: (checkpointId: bigint, reason: string) => void;
  /** The job takes checkpoints: sinks commit on completion, and the task ends only after a final checkpoint. */
  readonly checkpointing: boolean;
  /** sink.print's output (whole lines); default: process.stdout. */
  readonly stdout?: (text: string) => void;
  /** Cumulative records in (emitted by the source, or received), at most ~10 times/s and at the end. */
  readonly onRecords?: (total: number) => void;
  readonly operators?: StreamOperatorRegistry;
  readonly maxParallelism?: number;
}

/** What a trigger asks for: a checkpoint, a savepoint, or a savepoint after which the sources stop. */
export type SnapshotKind = "checkpoint" | "savepoint" | "stop-savepoint";

export interface StreamTask {
  /** Resolves when the task finished (FINISHED); rejects with the failure, or signal.reason when cancelled. */
  readonly done: Promise<void>;
  /** Source tasks inject barrier n (also after their end of input); tasks whose inputs ended snapshot; others remember it. Idempotent. */
  triggerCheckpoint(checkpointId: bigint, timestampMs: number, kind: SnapshotKind): void;
  /** Checkpoint n is complete: operators commit. Idempotent. */
  notifyCheckpointComplete(checkpointId: bigint): void;
  /** Checkpoint n will not complete: stop aligning it. Idempotent. */
  abortCheckpoint(checkpointId: bigint): void;
}

/** Progress reports are at least this far apart. */
const REPORT_INTERVAL_MS = 100;
/** The loop lets timers and I/O (heartbeats!) run at least this often. */
const YIELD_INTERVAL_MS = 5;

export function runStreamTask(context: StreamTaskContext): StreamTask {
  const runner = new StreamTaskRunner(context);
  return {
    done: runner.run(),
    triggerCheckpoint: (id, timestampMs, kind) =>
      runner.post(() =>
        runner.trigger(
          { kind: "barrier", checkpointId: id, timestampMs, savepoint: kind !== "checkpoint" },
          kind === "stop-savepoint",
        ),
      ),
    notifyCheckpointComplete: (id) => runner.post(() => runner.complete(id)),
    abortCheckpoint: (id) => runner.post(() => runner.abort(id)),
  };
}

class StreamTaskRunner {
  private readonly waker = new Waker();
  private readonly mailbox: (() => Promise<void>)[] = [];
  private accepting = true;
  private chain: OperatorChain | undefined;
  private reader: InputReader | undefined;
  private writers: RecordWriter[] = [];
  /** Highest checkpoint snapshotted or aborted here: its triggers and barriers are stale. */
  private handledUpTo: bigint;
  /** A trigger that came while inputs were open, for when they end without its barrier. */
  private pendingTrigger: Barrier | undefined;
  /** The operators finished (end of input). */
  private finished = false;
  /** The last checkpoint this attempt snapshotted, and the first one after the operators finished. */
  private lastSnapshotId: bigint | undefined;
  private finalSnapshotId: bigint | undefined;
  /** The highest checkpoint notified complete. */
  private completedUpTo = 0n;
  /** A source stopping with this savepoint: emits nothing, ends once it completed, resumes if it aborts. */
  private stopAfter: bigint | undefined;
  private readonly writes = new Set<Promise<void>>();
  private records = 0;
  private reportedAt = monotonicNow();
  private yieldedAt = monotonicNow();

  constructor(private readonly context: StreamTaskContext) {
    this.handledUpTo = context.task.restoredCheckpointId;
  }

  post(action: () => Promise<void>): void {
    if (!this.accepting) return;
    this.mailbox.push(action);
    this.waker.wake();
  }

  async run(): Promise<void> {
    const { signal, task } = this.context;
    signal.throwIfAborted();
    let failure: { error: unknown } | undefined;
    try {
      const chain = new OperatorChain({
        task,
        signal,
        blobs: this.context.blobs,
        functions: this.context.functions,
        registry: this.context.operators ?? builtInStreamOperators,
        checkpointing: this.context.checkpointing,
        stdout: this.context.stdout ?? ((text) => void process.stdout.write(text)),
        maxParallelism: this.context.maxParallelism,
      });
      this.chain = chain;
      this.writers = task.outputs.map((output) => {
        const channels: OutputChannel[] = [];
        for (let i = 0; i < output.consumers; i++) channels.push(this.context.openOutput(output, i));
        const partitioner = createPartitioner({
          output,
          subtask: task.subtask,
          parallelism: task.parallelism,
          functions: this.context.functions,
          ...(this.context.maxParallelism === undefined
            ? {}
            : { maxParallelism: this.context.maxParallelism }),
        });
        return new RecordWriter(output, channels, partitioner);
      });
      if (task.inputs.length > 0) {
        const channels = task.inputs.flatMap((gate) =>
          gate.producers.map((p) => this.context.openInput(gate, p)),
        );
        this.reader = new InputReader(channels, this.waker, signal, task.restoredCheckpointId);
      }
      await chain.open();
      if (chain.source && (await this.runSource(chain)) === "stopped") {
        for (const writer of this.writers) await writer.broadcast({ kind: "end" }, signal);
      } else {
        if (!chain.source) await this.runInputs(chain, this.reader!);
        await this.endOfInput(chain);
      }
    } catch (e: unknown) {
      failure = { error: e };
    }
    this.accepting = false;
    this.mailbox.length = 0;
    this.reader?.close();
    await Promise.allSettled([...this.writes]);
    try {
      await this.chain?.close();
    } catch (e: unknown) {
      failure ??= { error: e };
    }
    for (const writer of this.writers) {
      try {
        await writer.close();
      } catch (e: unknown) {
        failure ??= { error: e };
      }
    }
    // A failure caused by the abort (an aborted wait, a closed channel) is a cancel, not an operator error.
    if (signal.aborted) throw signal.reason;
    if (failure) throw failure.error;
    this.context.onRecords?.(this.records);
  }

  async trigger(barrier: Barrier, stopSource = false): Promise<void> {
    const id = barrier.checkpointId;
    if (id <= this.handledUpTo) return;
    if (this.chain?.source || this.finished || this.reader?.allEnded) {
      await this.checkpoint(barrier);
      // A finished source already waits for its final checkpoint before it ends: that is this one.
      if (stopSource && this.chain?.source && !this.finished) this.stopAfter = id;
    } else if (this.pendingTrigger === undefined || id > this.pendingTrigger.checkpointId) {
      this.pendingTrigger = barrier;
    }
  }

  async complete(checkpointId: bigint): Promise<void> {
    await this.chain?.notifyCheckpointComplete(checkpointId);
    if (checkpointId > this.completedUpTo) this.completedUpTo = checkpointId;
  }

  async abort(checkpointId: bigint): Promise<void> {
    if (checkpointId > this.handledUpTo) this.handledUpTo = checkpointId;
    if (this.stopAfter !== undefined && this.stopAfter <= checkpointId) this.stopAfter = undefined;
    this.reader?.abortCheckpoint(checkpointId);
    if (this.pendingTrigger !== undefined && this.pendingTrigger.checkpointId <= checkpointId) {
      this.pendingTrigger = undefined;
    }
    await this.chain?.abort(checkpointId);
  }

  /** "stopped": a stop-with-savepoint completed; "ended": the source is exhausted. */
  private async runSource(chain: OperatorChain): Promise<"stopped" | "ended"> {
    const { signal } = this.context;
    const source = chain.source!;
    for (;;) {
      await this.runMailbox();
      if (this.stopAfter !== undefined) {
        await this.waitUntil(() => this.stopAfter === undefined || this.completedUpTo >= this.stopAfter);
        if (this.stopAfter !== undefined) return "stopped";
        continue;
      }
      const batch = await source.next();
      signal.throwIfAborted();
      if (batch === undefined) return "ended";
      this.records += batch.length;
      await this.emit(await chain.process(batch));
      await this.pace();
    }
  }

  private async runInputs(chain: OperatorChain, reader: InputReader): Promise<void> {
    const { signal } = this.context;
    for (;;) {
      await this.runMailbox();
      const event = reader.poll();
      if (event === undefined) {
        await this.waker.wait(signal);
        continue;
      }
      switch (event.kind) {
        case "records":
          this.records += event.records.length;
          await this.emit(await chain.process(event.records));
          await this.pace();
          break;
        case "aligned":
          await this.checkpoint(event.barrier);
          reader.completeAlignment(event.barrier.checkpointId);
          break;
        case "abandoned":
          this.context.decline(event.checkpointId, `task ${this.context.task.executionId}: ${event.reason}`);
          break;
        case "ended":
          return;
      }
    }
  }

  private async endOfInput(chain: OperatorChain): Promise<void> {
    const { signal, checkpointing } = this.context;
    await this.emit(await chain.finish());
    this.finished = true;
    if (chain.source !== undefined && checkpointing) {
      // The final checkpoint's barrier must still reach the consumers: "end" only after it completed.
      await this.waitUntil(
        () => this.finalSnapshotId !== undefined && this.completedUpTo >= this.finalSnapshotId,
      );
    }
    for (const writer of this.writers) await writer.broadcast({ kind: "end" }, signal);
    const pending = this.pendingTrigger;
    this.pendingTrigger = undefined;
    // Triggered while the inputs were open, but they ended before its barrier came: the final state is its.
    if (pending !== undefined && pending.checkpointId > this.handledUpTo) await this.checkpoint(pending);
    if (checkpointing) {
      await this.waitUntil(
        () => this.lastSnapshotId === undefined || this.completedUpTo >= this.lastSnapshotId,
      );
    }
  }

  /** Runs the mailbox until `done` holds. */
  private async waitUntil(done: () => boolean): Promise<void> {
    for (;;) {
      await this.runMailbox();
      if (done()) return;
      await this.waker.wait(this.context.signal);
    }
  }

  private async runMailbox(): Promise<void> {
    for (let action = this.mailbox.shift(); action !== undefined; action = this.mailbox.shift()) {
      await action();
      this.context.signal.throwIfAborted();
    }
  }

  /** Snapshot (synchronous part), forward the barrier, then write and ack in the background. */
  private async checkpoint(barrier: Barrier): Promise<void> {
    const { signal } = this.context;
    const id = barrier.checkpointId;
    const snapshots = await this.chain!.snapshot(id);
    if (id > this.handledUpTo) this.handledUpTo = id;
    this.reader?.markHandled(id);
    this.lastSnapshotId = id;
    if (this.finished && this.finalSnapshotId === undefined) this.finalSnapshotId = id;
    for (const writer of this.writers) await writer.broadcast(barrier, signal);
    this.persist(id, snapshots);
  }

  private persist(checkpointId: bigint, snapshots: readonly OperatorSnapshot[]): void {
    const { task, blobs, signal } = this.context;
    const write = (async () => {
      let states: OperatorSubtaskState[];
      try {
        states = await Promise.all(
          snapshots.map((s) => writeOperatorState(blobs, s.uid, task.subtask, task.parallelism, s.bytes)),
        );
      } catch (e: unknown) {
        if (!signal.aborted) {
          const why = e instanceof Error ? e.message : String(e);
          this.context.decline(
            checkpointId,
            `task ${task.executionId}: writing the state of checkpoint ${checkpointId} failed: ${why}`,
          );
        }
        return;
      }
      if (!signal.aborted) this.context.ack(checkpointId, states);
    })().catch(() => {
      // Only ack / decline could throw here, and their contract says they do not; nothing is left to report to.
    });
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
  }

  private async emit(records: readonly StreamRecord[]): Promise<void> {
    if (records.length === 0) return;
    for (const writer of this.writers) {
      writer.add(records);
      await writer.flush(this.context.signal);
    }
  }

  /** Progress reports and yielding to the event loop. */
  private async pace(): Promise<void> {
    const now = monotonicNow();
    if (now - this.reportedAt >= REPORT_INTERVAL_MS) {
      this.reportedAt = now;
      this.context.onRecords?.(this.records);
    }
    if (now - this.yieldedAt >= YIELD_INTERVAL_MS) {
      await yieldToEventLoop();
      this.yieldedAt = monotonicNow();
      this.context.signal.throwIfAborted();
    }
  }
}
