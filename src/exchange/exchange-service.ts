// A TaskManager's DataExchange service: the registry of the result partitions its producer subtasks write,
// served to consumer subtasks on other TaskManagers over ReadPartition streams, and to those on this one over
// local channels (no gRPC, no codec). A consumer may ask before its producer registered (deployments race);
// either way it then waits up to `partitionWaitMs` before it fails with NOT_FOUND.
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { LifecycleError, UnavailableError, VigilError } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import { validateBufferOptions } from "./buffered-output.ts";
import { LocalPartitionChannel, type LocalPartitionRequest } from "./local-partition-channel.ts";
import { PartitionStream, type ReadPartitionCall } from "./partition-stream.ts";
import { describePartition, type PartitionId, partitionKey, ResultPartition } from "./result-partition.ts";
import { Wakeup } from "./wakeup.ts";

export const DEFAULT_PARTITION_WAIT_MS = 5_000;
/** Released partitions remembered, so that a consumer asking late fails at once instead of waiting. */
const RELEASED_LIMIT = 4_096;

export interface ExchangeServiceOptions {
  readonly logger: Logger;
  /** Buffers one subpartition holds before its consumer takes them (before it connects or without credit). */
  readonly subpartitionBuffers: number;
  /** Records per buffer. */
  readonly bufferRecords: number;
  /** How long records may wait for a buffer to fill. */
  readonly flushMs: number;
  /** How long a request for an unregistered partition waits for it; default DEFAULT_PARTITION_WAIT_MS. */
  readonly partitionWaitMs?: number;
}

export class ExchangeService {
  private readonly partitions = new Map<string, ResultPartition>();
  /** Partitions released before they were consumed, by key: why. */
  private readonly released = new Map<string, string>();
  private readonly registered = new Wakeup();
  private readonly streams = new Set<PartitionStream>();
  private readonly locals = new Set<LocalPartitionChannel>();
  private streamsServed = 0;
  private localChannelsOpened = 0;
  private readonly logger: Logger;
  private readonly waitMs: number;
  private closed = false;

  /** The grpc-js handlers: `server.addService(dataExchangeService, service.implementation)`. */
  readonly implementation: UntypedServiceImplementation = {
    readPartition: (call: ReadPartitionCall) => this.serve(call),
  };

  constructor(private readonly options: ExchangeServiceOptions) {
    validateBufferOptions(
      {
        capacity: options.subpartitionBuffers,
        bufferRecords: options.bufferRecords,
        flushMs: options.flushMs,
      },
      "data exchange",
    );
    this.logger = options.logger.child({ component: "data-exchange" });
    this.waitMs = options.partitionWaitMs ?? DEFAULT_PARTITION_WAIT_MS;
  }

  /**
   * Creates and serves the result partition of one producer subtask for one downstream edge. Throws
   * ALREADY_EXISTS when that partition is registered already, LifecycleError after close().
   */
  registerPartition(
    producerExecutionId: string,
    downstreamVertex: string,
    subpartitions: number,
    epoch: bigint,
  ): ResultPartition {
    if (this.closed)
      throw new LifecycleError(`data exchange: registerPartition(${producerExecutionId}) after close()`);
    const id: PartitionId = { producerExecutionId, downstreamVertex };
    const key = partitionKey(id);
    if (this.partitions.has(key))
      throw new VigilError("ALREADY_EXISTS", `${describePartition(id)} is registered already`);
    const partition: ResultPartition = new ResultPartition(
      id,
      subpartitions,
      epoch,
      {
        capacity: this.options.subpartitionBuffers,
        bufferRecords: this.options.bufferRecords,
        flushMs: this.options.flushMs,
      },
      () => {
        if (this.partitions.get(key) === partition) this.partitions.delete(key);
      },
    );
    this.partitions.set(key, partition);
    this.registered.notify();
    return partition;
  }

  /**
   * Releases a partition whose producer failed or was cancelled: its sends and its consumers fail with
   * UnavailableError. A partition consumed to the end releases itself. Unknown partitions are ignored.
   */
  releasePartition(producerExecutionId: string, downstreamVertex: string, reason: string): void {
    const partition = this.partitions.get(partitionKey({ producerExecutionId, downstreamVertex }));
    if (partition !== undefined) this.release(partition, reason);
  }

  /** Releases every partition of one producer execution (all its downstream edges). */
  releasePartitionsOf(producerExecutionId: string, reason: string): void {
    for (const partition of [...this.partitions.values()])
      if (partition.id.producerExecutionId === producerExecutionId) this.release(partition, reason);
  }

  private release(partition: ResultPartition, reason: string): void {
    if (partition.isReleased) return;
    this.released.set(partitionKey(partition.id), reason);
    if (this.released.size > RELEASED_LIMIT) {
      const oldest = this.released.keys().next();
      if (!oldest.done) this.released.delete(oldest.value);
    }
    partition.release(reason);
    // Requests already waiting for this partition learn that it is gone.
    this.registered.notify();
  }

  /**
   * The consumer's end of a channel to a producer in this process: reads the producer's subpartition
   * directly, with a ReadPartition stream's outcomes (see local-partition-channel.ts). Never throws: failures,
   * also "closed", surface in next().
   */
  openLocalChannel(request: LocalPartitionRequest): LocalPartitionChannel {
    const channel = new LocalPartitionChannel(
      request,
      (id, signal) => this.lookup(id, signal),
      (c) => this.locals.delete(c),
    );
    this.locals.add(channel);
    this.localChannelsOpened++;
    channel.open();
    return channel;
  }

  /** Whether the partition is registered here, or was until it was released (its producer ran here). */
  holds(producerExecutionId: string, downstreamVertex: string): boolean {
    const key = partitionKey({ producerExecutionId, downstreamVertex });
    return this.partitions.has(key) || this.released.has(key);
  }

  /** The registered partition, if any (finished ones are gone). */
  partition(producerExecutionId: string, downstreamVertex: string): ResultPartition | undefined {
    return this.partitions.get(partitionKey({ producerExecutionId, downstreamVertex }));
  }

  /** Open ReadPartition streams, for tests and metrics. */
  get activeStreams(): number {
    return this.streams.size;
  }

  /** Open local channels (not yet closed nor read to "end"), for tests and metrics. */
  get activeLocalChannels(): number {
    return this.locals.size;
  }

  /** ReadPartition streams and local channels opened since the start, for tests and metrics. */
  get opened(): { readonly streams: number; readonly localChannels: number } {
    return { streams: this.streamsServed, localChannels: this.localChannelsOpened };
  }

  /** Requests and local channels waiting for their partition to be registered, for tests and metrics. */
  get waitingRequests(): number {
    return this.registered.waiting;
  }

  /** Releases every partition and ends every stream with UNAVAILABLE. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const partition of [...this.partitions.values()])
      partition.release("the TaskManager is shutting down");
    for (const stream of [...this.streams]) stream.close("the producer's TaskManager is shutting down");
    this.registered.notify();
  }

  private serve(call: ReadPartitionCall): void {
    const stream = new PartitionStream(
      call,
      (id, signal) => this.lookup(id, signal),
      this.logger,
      (s) => this.streams.delete(s),
    );
    this.streams.add(stream);
    this.streamsServed++;
    stream.start();
    if (this.closed) stream.close("the producer's TaskManager is shutting down");
  }

  private async lookup(id: PartitionId, signal: AbortSignal): Promise<ResultPartition> {
    const key = partitionKey(id);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.waitMs);
    const wait = AbortSignal.any([signal, deadline.signal]);
    try {
      for (;;) {
        if (this.closed)
          throw new UnavailableError("data exchange: the producer's TaskManager is shutting down");
        const partition = this.partitions.get(key);
        if (partition !== undefined) return partition;
        const released = this.released.get(key);
        if (released !== undefined) {
          throw new UnavailableError(`${describePartition(id)} was released: ${released}`);
        }
        try {
          await this.registered.wait(wait);
        } catch (e: unknown) {
          if (signal.aborted) throw e;
          throw new VigilError(
            "NOT_FOUND",
            `${describePartition(id)} is not registered at this TaskManager (waited ${this.waitMs} ms): the producer was not deployed here, already finished and was consumed, or failed`,
          );
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }
}
