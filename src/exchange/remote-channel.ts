// The consumer's end of a remote channel: one ReadPartition stream to the producer's TaskManager. It asks for
// one subpartition with `creditBuffers` of initial credit and grants one more buffer each time it has handed
// out the last element of one, so at most `creditBuffers` buffers are ever on the wire or waiting here.
import {
  Client,
  type ClientDuplexStream,
  type ClientOptions,
  credentials,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { LifecycleError, UnavailableError, type VigilError } from "../common/errors.ts";
import type { ConsumerMessage, ProducerMessage } from "../generated/records.ts";
import { fromStatus } from "../rpc/errors.ts";
import type { InputChannel, StreamElement } from "../runtime/streaming/elements.ts";
import { validateBufferOptions } from "./buffered-output.ts";
import { decodeBuffer } from "./codec.ts";
import { Wakeup } from "./wakeup.ts";
import { READ_PARTITION_PATH, readPartitionDefinition } from "./wire.ts";

const CLIENT_OPTIONS: ClientOptions = {
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1_000,
  // A buffer is bufferRecords records of any size; grpc's 4 MiB default would fail a batch of large records.
  "grpc.max_receive_message_length": 64 * 1024 * 1024,
};

/** Codes a producer answers on purpose; they reach the consumer as they are. Others mean "producer gone". */
const PRODUCER_VERDICTS = new Set(["NOT_FOUND", "STALE_EPOCH", "INVALID_ARGUMENT", "ALREADY_EXISTS"]);

/** One gRPC client (one HTTP/2 connection) per producer TaskManager, shared by the channels to it. */
export class ExchangeClients {
  private readonly clients = new Map<string, Client>();
  private closed = false;

  get(address: string): Client {
    if (this.closed) throw new LifecycleError(`data exchange clients: get(${address}) after close()`);
    let client = this.clients.get(address);
    if (client === undefined) {
      client = new Client(address, credentials.createInsecure(), CLIENT_OPTIONS);
      this.clients.set(address, client);
    }
    return client;
  }

  /** Connections open (one per producer TaskManager asked), for tests and metrics. */
  get size(): number {
    return this.clients.size;
  }

  /** Closes every connection (channels on them fail). Idempotent. */
  close(): void {
    this.closed = true;
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}

export interface RemoteChannelOptions {
  /** The producer's TaskManager, "host:port". */
  readonly address: string;
  readonly producerExecutionId: string;
  readonly downstreamVertex: string;
  readonly subpartition: number;
  /** The leader epoch that deployed this consumer; the producer refuses another (STALE_EPOCH). */
  readonly epoch: bigint;
  /** Buffers on the wire or waiting here at most; ≥ 1. */
  readonly creditBuffers: number;
  /** Connections shared with other channels; without it the channel opens (and closes) its own. */
  readonly clients?: ExchangeClients;
  /** Aborting it closes the channel. */
  readonly signal?: AbortSignal;
}

/**
 * Opens the stream and sends the partition request with the initial credit. Failures surface in next():
 * NOT_FOUND / STALE_EPOCH / INVALID_ARGUMENT / ALREADY_EXISTS as the producer answered them (same `code`),
 * anything else (producer gone, connection lost, stream ended before "end") as UnavailableError.
 */
export function connectRemoteChannel(options: RemoteChannelOptions): RemoteInputChannel {
  const channel = new RemoteInputChannel(options);
  channel.open();
  return channel;
}

export class RemoteInputChannel implements InputChannel {
  private readonly received: Uint8Array[] = [];
  private current: readonly StreamElement[] | undefined;
  private index = 0;
  private call: ClientDuplexStream<ConsumerMessage, ProducerMessage> | undefined;
  private ownClient: Client | undefined;
  private failure: VigilError | undefined;
  private streamEnded = false;
  private ended = false;
  private closed = false;
  private readonly arrived = new Wakeup();
  private readonly what: string;
  private readonly onAbort = (): void => this.close();

  constructor(private readonly options: RemoteChannelOptions) {
    validateBufferOptions(
      { capacity: options.creditBuffers, bufferRecords: 1, flushMs: 0 },
      "remote channel",
    );
    this.what =
      `data exchange: producer ${options.producerExecutionId} at ${options.address} ` +
      `(subpartition ${options.subpartition} of its partition for ${options.downstreamVertex})`;
  }

  /** Starts the stream. Once; connectRemoteChannel calls it. */
  open(): void {
    if (this.call !== undefined || this.closed)
      throw new LifecycleError(`${this.what}: open() called twice or after close()`);
    const { options } = this;
    let client: Client;
    if (options.clients !== undefined) client = options.clients.get(options.address);
    else {
      client = new Client(options.address, credentials.createInsecure(), CLIENT_OPTIONS);
      this.ownClient = client;
    }
    const call = client.makeBidiStreamRequest<ConsumerMessage, ProducerMessage>(
      READ_PARTITION_PATH,
      readPartitionDefinition.requestSerialize,
      readPartitionDefinition.responseDeserialize,
      new Metadata(),
      {},
    );
    this.call = call;
    // Without an error listener a producer that goes away would crash the process.
    call.on("error", (e: ServiceError) => this.onStreamError(e));
    call.on("data", (message: ProducerMessage) => this.onBuffer(message));
    call.on("end", () => {
      this.streamEnded = true;
      this.arrived.notify();
    });
    call.write({
      request: {
        producerExecutionId: options.producerExecutionId,
        downstreamVertex: options.downstreamVertex,
        subpartition: options.subpartition,
        initialCredit: options.creditBuffers,
        epoch: options.epoch,
      },
    });
    if (options.signal?.aborted) this.close();
    else options.signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  async next(signal: AbortSignal): Promise<StreamElement> {
    for (;;) {
      // The signal first: a task's cancellation also closes its channels, and must read as the cancellation.
      signal.throwIfAborted();
      if (this.closed) throw new LifecycleError(`${this.what}: next() after close()`);
      if (this.ended) throw new LifecycleError(`${this.what}: next() after "end"`);
      const element = this.take();
      if (element !== undefined) return element;
      if (this.failure !== undefined) throw this.failure;
      if (this.streamEnded)
        throw new UnavailableError(`${this.what}: the stream ended before the end of the partition`);
      await this.arrived.wait(signal);
    }
  }

  /** Cancels the stream unless it finished (the producer sees the consumer go). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.options.signal?.removeEventListener("abort", this.onAbort);
    this.received.length = 0;
    this.current = undefined;
    if (!this.streamEnded) this.call?.cancel();
    this.ownClient?.close();
    this.arrived.notify();
  }

  /** Buffers received and not fully read (≤ creditBuffers). */
  get bufferedBuffers(): number {
    return this.received.length + (this.current === undefined ? 0 : 1);
  }

  private take(): StreamElement | undefined {
    while (this.current === undefined) {
      const bytes = this.received.shift();
      if (bytes === undefined) return undefined;
      try {
        this.current = decodeBuffer(bytes);
      } catch (e: unknown) {
        this.fail(e as VigilError);
        return undefined;
      }
      this.index = 0;
      if (this.current.length === 0) this.consumed();
    }
    const element = this.current[this.index++];
    if (this.index >= this.current.length) this.consumed();
    if (element?.kind === "end") {
      this.ended = true;
      this.call?.end();
    }
    return element;
  }

  /** The current buffer is read to its end: its credit goes back to the producer. */
  private consumed(): void {
    this.current = undefined;
    if (!this.streamEnded && this.failure === undefined && !this.closed)
      this.call?.write({ credit: { buffers: 1 } });
  }

  private onBuffer(message: ProducerMessage): void {
    if (this.closed || this.failure !== undefined) return;
    if (this.bufferedBuffers >= this.options.creditBuffers) {
      this.fail(
        new UnavailableError(
          `${this.what}: the producer sent more buffers than the ${this.options.creditBuffers} credited (protocol violation)`,
        ),
      );
      return;
    }
    this.received.push(message.buffer);
    this.arrived.notify();
  }

  private onStreamError(e: ServiceError): void {
    if (this.closed || this.failure !== undefined) return;
    const mapped = fromStatus(e, {
      method: "DataExchange/ReadPartition",
      address: this.options.address,
      timeoutMs: 0,
      cancelledByCaller: false,
    });
    this.failure = PRODUCER_VERDICTS.has(mapped.code)
      ? mapped
      : new UnavailableError(
          `${this.what} is gone: ${mapped.message}; this consumer fails and the job restarts`,
          mapped,
        );
    this.arrived.notify();
  }

  private fail(error: VigilError): void {
    if (this.failure === undefined) this.failure = error;
    this.call?.cancel();
    this.arrived.notify();
  }
}
