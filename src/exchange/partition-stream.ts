// The producer's end of one ReadPartition stream: reads the consumer's PartitionRequest, finds the partition
// (waiting briefly: the producer may still be deploying), then writes buffers of one subpartition as credit
// allows. The stream ends OK right after the buffer holding "end"; with UNAVAILABLE when the producer
// released its partition or closed before "end"; a consumer that goes away fails the subpartition, so the
// producer's blocked send() rejects instead of waiting forever.
import type { ServerDuplexStream } from "@grpc/grpc-js";
import {
  CancelledError,
  InternalError,
  InvalidArgumentError,
  UnavailableError,
  VigilError,
} from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import type { ConsumerMessage, PartitionRequest, ProducerMessage } from "../generated/records.ts";
import { toStatus } from "../rpc/errors.ts";
import type { BufferedOutput } from "./buffered-output.ts";
import { encodeBuffer } from "./codec.ts";
import type { PartitionId, PartitionLookup, ResultPartition } from "./result-partition.ts";

export type ReadPartitionCall = ServerDuplexStream<ConsumerMessage, ProducerMessage>;

type State = "awaiting-request" | "opening" | "serving" | "done";

export class PartitionStream {
  private state: State = "awaiting-request";
  private credit = 0;
  private output: BufferedOutput | undefined;
  private partition: ResultPartition | undefined;
  private subpartition = -1;
  private readonly opening = new AbortController();
  private peer = "unknown peer";

  constructor(
    private readonly call: ReadPartitionCall,
    private readonly lookup: PartitionLookup,
    private readonly logger: Logger,
    /** Called once when the stream is done, however it ended. */
    private readonly onDone: (stream: PartitionStream) => void,
  ) {}

  start(): void {
    this.peer = this.call.getPeer();
    // Without an error listener a peer that goes away would crash the process.
    this.call.on("error", (e: unknown) => this.consumerGone(`stream error: ${describe(e)}`));
    this.call.on("cancelled", () => this.consumerGone("the consumer cancelled the stream or disconnected"));
    this.call.on("end", () => {
      if (this.state !== "done") this.consumerGone("the consumer closed the stream before the end");
    });
    this.call.on("data", (message: ConsumerMessage) => this.onMessage(message));
  }

  /** Ends the stream with UNAVAILABLE (the TaskManager is shutting down). */
  close(reason: string): void {
    this.failStream(new UnavailableError(`data exchange: ${reason}`));
  }

  private onMessage(message: ConsumerMessage): void {
    if (this.state === "done") return;
    if (message.request !== undefined) {
      if (this.state !== "awaiting-request") {
        this.failStream(new InvalidArgumentError("data exchange: a second PartitionRequest on one stream"));
        return;
      }
      this.state = "opening";
      void this.open(message.request);
    } else if (message.credit !== undefined) {
      if (this.state === "awaiting-request") {
        this.failStream(new InvalidArgumentError("data exchange: Credit before the PartitionRequest"));
        return;
      }
      this.credit += message.credit.buffers;
      this.pump();
    }
  }

  private async open(request: PartitionRequest): Promise<void> {
    const id: PartitionId = {
      producerExecutionId: request.producerExecutionId,
      downstreamVertex: request.downstreamVertex,
    };
    let partition: ResultPartition;
    try {
      partition = await this.lookup(id, this.opening.signal);
      if (this.state === "done") return;
      this.output = partition.attach(request.subpartition, request.epoch);
    } catch (e: unknown) {
      if (this.state !== "done") this.failStream(e);
      return;
    }
    this.partition = partition;
    this.subpartition = request.subpartition;
    this.credit += request.initialCredit;
    this.state = "serving";
    this.logger.debug("data exchange: consumer attached", {
      partition: `${id.producerExecutionId}/${id.downstreamVertex}`,
      subpartition: request.subpartition,
      peer: this.peer,
    });
    this.output.setListener(() => this.pump());
    this.pump();
  }

  private pump(): void {
    const output = this.output;
    if (this.state !== "serving" || output === undefined) return;
    while (this.credit > 0) {
      const buffer = output.poll();
      if (buffer === undefined) break;
      let bytes: Buffer;
      try {
        bytes = encodeBuffer(buffer);
      } catch (e: unknown) {
        output.recycle();
        // The producer's records cannot cross the wire: its next send fails with the reason, and so does
        // this consumer (with the same code), rather than one side waiting forever.
        const error = e instanceof Error ? e : new Error(String(e));
        output.fail(error);
        this.failStream(error);
        return;
      }
      // Spend the credit and send before recycling: recycle() can seal a waiting buffer, whose listener runs
      // pump() again inside this one; that inner pump must see the credit spent and this buffer already sent
      // (else it overdraws the consumer's credit and sends the newer buffer first).
      this.credit--;
      this.call.write({ buffer: bytes });
      output.recycle();
      if (buffer[buffer.length - 1]?.kind === "end") {
        this.partition?.markDelivered(this.subpartition);
        this.finish();
        this.call.end();
        return;
      }
    }
    const failure = output.failed;
    if (failure !== undefined) this.failStream(failure);
    else if (output.drained)
      this.failStream(
        new UnavailableError(
          `${output.name}: the producer closed it before its end (it failed or was cancelled)`,
        ),
      );
  }

  private consumerGone(reason: string): void {
    if (this.state === "done") return;
    const where = this.output?.name ?? "data exchange";
    this.output?.fail(new UnavailableError(`${where}: the consumer at ${this.peer} is gone (${reason})`));
    this.finish();
  }

  private failStream(error: unknown): void {
    if (this.state === "done") return;
    this.finish();
    const status = toStatus(error instanceof VigilError ? error : new InternalError(describe(error)));
    // grpc-js turns an emitted error into the call's status, after the messages already written.
    this.call.emit("error", { code: status.code, details: status.details, metadata: status.metadata });
  }

  private finish(): void {
    this.state = "done";
    this.opening.abort(
      new CancelledError("data exchange: the stream ended while its partition was looked up"),
    );
    this.output?.setListener(undefined);
    this.onDone(this);
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
