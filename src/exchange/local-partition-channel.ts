// The consumer's end of a channel to a producer in this TaskManager: what a ReadPartition stream does, without
// gRPC or the codec. It finds the partition in this process's ExchangeService (waiting for it to be registered
// as a stream's request would), attaches to its subpartition with the same epoch and single-reader checks,
// and reads its buffers directly: the subpartition's capacity bounds what is between the two subtasks, and
// records are copied as they are taken (local-channel.ts). Every outcome matches the remote channel's: its
// lookup errors (NOT_FOUND after the wait, released, shutting down), STALE_EPOCH, the partition released
// later (UnavailableError), the consumer closing (the producer's sends fail), "end" (the subpartition counts
// as delivered).
import { CancelledError, LifecycleError } from "../common/errors.ts";
import type { InputChannel, StreamElement } from "../runtime/streaming/elements.ts";
import { LocalInputChannel } from "./local-channel.ts";
import type { PartitionId, PartitionLookup } from "./result-partition.ts";
import { Wakeup } from "./wakeup.ts";

export interface LocalPartitionRequest {
  readonly producerExecutionId: string;
  readonly downstreamVertex: string;
  readonly subpartition: number;
  /** The leader epoch that deployed this consumer; the producer's partition refuses another (STALE_EPOCH). */
  readonly epoch: bigint;
  /** Pass records by reference instead of copying them (Flink's object reuse); default false. */
  readonly objectReuse?: boolean;
  /** Aborting it closes the channel. */
  readonly signal?: AbortSignal;
}

export class LocalPartitionChannel implements InputChannel {
  private reader: LocalInputChannel | undefined;
  private failure: { readonly error: unknown } | undefined;
  private opened = false;
  private closed = false;
  private finished = false;
  private readonly attaching = new AbortController();
  private readonly attached = new Wakeup();
  private readonly onAbort = (): void => this.close();
  private readonly what: string;

  constructor(
    private readonly request: LocalPartitionRequest,
    private readonly lookup: PartitionLookup,
    /** Called once when the channel is done: closed, or "end" read. */
    private readonly onDone: (channel: LocalPartitionChannel) => void,
  ) {
    this.what =
      `data exchange: producer ${request.producerExecutionId} in this TaskManager ` +
      `(subpartition ${request.subpartition} of its partition for ${request.downstreamVertex})`;
  }

  /** Starts looking for the partition. Once; ExchangeService.openLocalChannel calls it. */
  open(): void {
    if (this.opened || this.closed)
      throw new LifecycleError(`${this.what}: open() called twice or after close()`);
    this.opened = true;
    const { signal } = this.request;
    if (signal?.aborted) {
      this.close();
      return;
    }
    signal?.addEventListener("abort", this.onAbort, { once: true });
    void this.attach();
  }

  async next(signal: AbortSignal): Promise<StreamElement> {
    for (;;) {
      // The signal first: a task's cancellation also closes its channels, and must read as the cancellation.
      signal.throwIfAborted();
      if (this.closed) throw new LifecycleError(`${this.what}: next() after close()`);
      if (this.reader !== undefined) return this.reader.next(signal);
      if (this.failure !== undefined) throw this.failure.error;
      await this.attached.wait(signal);
    }
  }

  /** Stops waiting for the partition, or releases the subpartition (the producer sees the consumer go). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.request.signal?.removeEventListener("abort", this.onAbort);
    this.attaching.abort(new CancelledError(`${this.what}: the consumer closed the channel`));
    this.reader?.close();
    this.attached.notify();
    this.finish();
  }

  /** Buffers between producer and consumer (≤ the subpartition's capacity); 0 before attaching. */
  get bufferedBuffers(): number {
    return this.reader?.bufferedBuffers ?? 0;
  }

  private async attach(): Promise<void> {
    const { request } = this;
    const id: PartitionId = {
      producerExecutionId: request.producerExecutionId,
      downstreamVertex: request.downstreamVertex,
    };
    try {
      const partition = await this.lookup(id, this.attaching.signal);
      // close() aborted the lookup, unless it had resolved already: then nothing may be attached.
      if (this.closed) return;
      const output = partition.attach(request.subpartition, request.epoch);
      this.reader = new LocalInputChannel(output, {
        name: output.name,
        objectReuse: request.objectReuse ?? false,
        onEnd: () => {
          partition.markDelivered(request.subpartition);
          this.finish();
        },
      });
    } catch (e: unknown) {
      if (!this.closed) this.failure = { error: e };
    }
    this.attached.notify();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.onDone(this);
  }
}
