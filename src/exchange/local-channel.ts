// A channel between two subtasks in one TaskManager, with the remote channel's credit semantics: at most
// `creditBuffers` buffers exist between producer and consumer (the one being read counts until it is read to
// the end), so a slow consumer holds its producer back exactly as it would over the network. Records are
// copied as the consumer takes them (record-copy.ts), as the remote path copies them by encoding, unless
// object reuse is on: then they pass by reference and neither side may mutate a record after the send.
import { LifecycleError, UnavailableError, type VigilError } from "../common/errors.ts";
import type { InputChannel, StreamElement } from "../runtime/streaming/elements.ts";
import { BufferedOutput, type ElementBuffer } from "./buffered-output.ts";
import { copyRecords } from "./record-copy.ts";
import { Wakeup } from "./wakeup.ts";

export interface LocalChannelOptions {
  /** Buffers in flight at most (the credit a remote consumer would grant); ≥ 1. */
  readonly creditBuffers: number;
  /** Records per buffer; ≥ 1. */
  readonly bufferRecords: number;
  /** How long records may wait for a buffer to fill; ≥ 0. Barriers and "end" flush at once. */
  readonly flushMs: number;
  /** Names the channel in errors; default "local channel". */
  readonly name?: string;
  /** Pass records by reference instead of copying them (Flink's object reuse); default false. */
  readonly objectReuse?: boolean;
}

export interface LocalChannel {
  readonly output: BufferedOutput;
  readonly input: LocalInputChannel;
}

/** Creates both ends of a local channel. Throws InvalidArgumentError for out-of-range options. */
export function createLocalChannel(options: LocalChannelOptions): LocalChannel {
  const name = options.name ?? "local channel";
  const output = new BufferedOutput(
    { capacity: options.creditBuffers, bufferRecords: options.bufferRecords, flushMs: options.flushMs },
    name,
  );
  return {
    output,
    input: new LocalInputChannel(output, { name, objectReuse: options.objectReuse ?? false }),
  };
}

export interface LocalInputOptions {
  /** Names the channel in errors. */
  readonly name: string;
  /** Pass records by reference instead of copying them. */
  readonly objectReuse: boolean;
  /** Called once when the consumer took "end" (a result partition counts its subpartition delivered). */
  readonly onEnd?: () => void;
}

/** The consumer's end of a BufferedOutput in this process; it alone polls and recycles the output's buffers. */
export class LocalInputChannel implements InputChannel {
  private current: ElementBuffer | undefined;
  private index = 0;
  private closed = false;
  private ended = false;
  private readonly arrived = new Wakeup();
  private readonly name: string;

  constructor(
    private readonly output: BufferedOutput,
    private readonly options: LocalInputOptions,
  ) {
    this.name = options.name;
    output.setListener(() => this.arrived.notify());
  }

  /**
   * The next element (see InputChannel). Rejects with the output's failure when it failed (the producer's
   * partition was released, a record could not be copied), with UnavailableError when the producer closed it
   * before "end".
   */
  async next(signal: AbortSignal): Promise<StreamElement> {
    for (;;) {
      signal.throwIfAborted();
      if (this.closed) throw new LifecycleError(`${this.name}: next() after close()`);
      if (this.ended) throw new LifecycleError(`${this.name}: next() after "end"`);
      const element = this.take();
      if (element !== undefined) return element;
      const failure = this.output.failed;
      if (failure !== undefined) throw failure;
      if (this.output.drained)
        throw new UnavailableError(
          `${this.name}: the producer released the channel before its end (it failed or was cancelled)`,
        );
      await this.arrived.wait(signal);
    }
  }

  /** Releases the channel: the producer's sends fail unless "end" was read; a waiting next() rejects. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.output.setListener(undefined);
    if (this.current !== undefined) {
      this.current = undefined;
      this.output.recycle();
    }
    if (!this.ended)
      this.output.fail(new UnavailableError(`${this.name}: the consumer released the channel`));
    this.arrived.notify();
  }

  /** Buffers between producer and consumer, counting the one being read (≤ creditBuffers while open). */
  get bufferedBuffers(): number {
    return this.output.buffers;
  }

  private take(): StreamElement | undefined {
    if (this.current === undefined) {
      const polled = this.output.poll();
      if (polled === undefined) return undefined;
      try {
        this.current = this.options.objectReuse ? polled : polled.map(copyElement);
      } catch (e: unknown) {
        // As over the network: the producer's next send and this consumer fail with the same error.
        this.output.recycle();
        this.output.fail(e as VigilError);
        return undefined;
      }
      this.index = 0;
    }
    const element = this.current[this.index++];
    if (this.index >= this.current.length) {
      this.current = undefined;
      this.output.recycle();
    }
    if (element?.kind === "end") {
      this.ended = true;
      this.options.onEnd?.();
    }
    return element;
  }
}

function copyElement(element: StreamElement): StreamElement {
  return element.kind === "records" ? { kind: "records", records: copyRecords(element.records) } : element;
}
