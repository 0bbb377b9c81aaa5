// The producer side of one edge: one result partition per producer subtask and downstream edge, with one
// subpartition (an OutputChannel) per consumer subtask. A subpartition buffers up to its capacity until its
// consumer connects and grants credit, then drains as credit allows; the producer task blocks in send()
// while its subpartition is full. A partition is released when every subpartition's "end" was delivered, or
// explicitly (the producer failed or was cancelled: its consumers see UnavailableError).
import { InvalidArgumentError, UnavailableError, VigilError } from "../common/errors.ts";
import type { OutputChannel } from "../runtime/streaming/elements.ts";
import { BufferedOutput, type BufferOptions } from "./buffered-output.ts";

export interface PartitionId {
  readonly producerExecutionId: string;
  /** The downstream vertex of the edge: one producer chain may feed several edges. */
  readonly downstreamVertex: string;
}

/** How a consumer finds its partition: resolves it, or rejects (NOT_FOUND after the wait, aborted, …). */
export type PartitionLookup = (id: PartitionId, signal: AbortSignal) => Promise<ResultPartition>;

export function partitionKey(id: PartitionId): string {
  return `${id.producerExecutionId}/${id.downstreamVertex}`;
}

export function describePartition(id: PartitionId): string {
  return `result partition of producer ${id.producerExecutionId} for ${id.downstreamVertex}`;
}

export class ResultPartition {
  /** One channel per consumer subtask, in subtask order. */
  readonly subpartitions: readonly OutputChannel[];
  private readonly outputs: readonly BufferedOutput[];
  private readonly attached: boolean[];
  private readonly delivered: boolean[];
  private released: Error | undefined;
  private readonly onFinished: () => void;

  constructor(
    readonly id: PartitionId,
    subpartitions: number,
    /** The leader epoch that deployed the producer; consumers of another epoch are refused. */
    readonly epoch: bigint,
    options: BufferOptions,
    /** Called once when the partition is consumed to the end or released. */
    onFinished: () => void = () => {},
  ) {
    if (!Number.isInteger(subpartitions) || subpartitions < 1)
      throw new InvalidArgumentError(
        `${describePartition(id)}: subpartitions must be an integer ≥ 1, got ${subpartitions}`,
      );
    const outputs: BufferedOutput[] = [];
    for (let i = 0; i < subpartitions; i++)
      outputs.push(new BufferedOutput(options, `${describePartition(id)}, subpartition ${i}`));
    this.outputs = outputs;
    this.subpartitions = outputs;
    this.attached = outputs.map(() => false);
    this.delivered = outputs.map(() => false);
    this.onFinished = onFinished;
  }

  /**
   * Hands subpartition `index` to its consumer (a stream or a local channel), deployed by leader epoch
   * `consumerEpoch`. Throws STALE_EPOCH when that is not the producer's epoch, InvalidArgumentError when
   * `index` is out of range, ALREADY_EXISTS when a consumer already read it (a reconnect cannot resume: the
   * data it took is gone), UnavailableError when the partition was released.
   */
  attach(index: number, consumerEpoch: bigint): BufferedOutput {
    if (consumerEpoch !== this.epoch)
      throw new VigilError(
        "STALE_EPOCH",
        `${describePartition(this.id)}: the producer was deployed by leader epoch ${this.epoch}, the consumer by epoch ${consumerEpoch}; the older deployment is being replaced`,
      );
    if (this.released !== undefined) throw this.released;
    const output = this.outputs[index];
    if (output === undefined || !Number.isInteger(index))
      throw new InvalidArgumentError(
        `${describePartition(this.id)} has subpartitions 0..${this.outputs.length - 1}; subpartition ${index} was requested`,
      );
    if (this.attached[index] === true)
      throw new VigilError(
        "ALREADY_EXISTS",
        `${describePartition(this.id)}, subpartition ${index}: a consumer already reads it; a second reader cannot resume it (restart the consumer's job)`,
      );
    this.attached[index] = true;
    return output;
  }

  /** The stream of subpartition `index` wrote its "end". When all did, the partition is finished. */
  markDelivered(index: number): void {
    if (this.delivered[index] === true || index < 0 || index >= this.delivered.length) return;
    this.delivered[index] = true;
    if (this.released === undefined && this.delivered.every(Boolean)) {
      this.released = new UnavailableError(`${describePartition(this.id)}: consumed to the end`);
      this.onFinished();
    }
  }

  /** Fails every subpartition with `reason` (senders and consumers see it). Idempotent. */
  release(reason: string): void {
    if (this.released !== undefined) return;
    this.released = new UnavailableError(
      `${describePartition(this.id)} was released: ${reason}; its consumers fail and the job restarts`,
    );
    for (const output of this.outputs) output.fail(this.released);
    this.onFinished();
  }

  get isReleased(): boolean {
    return this.released !== undefined;
  }

  /** Buffers held per subpartition (queued plus being written), for tests and metrics. */
  bufferCounts(): number[] {
    return this.outputs.map((o) => o.buffers);
  }
}
