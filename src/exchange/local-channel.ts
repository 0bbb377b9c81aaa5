// A channel between two subtasks in one TaskManager, with the remote channel's credit semantics: at most
// `creditBuffers` buffers exist between producer and consumer (the one being read counts until it is read to
// the end), so a slow consumer holds its producer back exactly as it would over the network. Records pass
// by reference, not copied: a producer must not mutate a record after sending it.
import { LifecycleError, UnavailableError } from "../common/errors.ts";
import type { InputChannel, StreamElement } from "../runtime/streaming/elements.ts";
import { BufferedOutput, type ElementBuffer } from "./buffered-output.ts";
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
  return { output, input: new LocalInputChannel(output, name) };
}

export class LocalInputChannel implements InputChannel {
  private current: ElementBuffer | undefined;
  private index = 0;
  private closed = false;
  private ended = false;
  private readonly arrived = new Wakeup();

  constructor(
    private readonly output: BufferedOutput,
    private readonly name: string,
  ) {
    output.setListener(() => this.arrived.notify());
  }

  async next(signal: AbortSignal): Promise<StreamElement> {
    for (;;) {
      if (this.closed) throw new LifecycleError(`${this.name}: next() after close()`);
      if (this.ended) throw new LifecycleError(`${this.name}: next() after "end"`);
      signal.throwIfAborted();
      const element = this.take();
      if (element !== undefined) return element;
      if (this.output.drained)
        throw new UnavailableError(
          `${this.name}: the producer released the channel before its end (it failed or was cancelled)`,
        );
      await this.arrived.wait(signal);
    }
  }

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
  }

  /** Buffers between producer and consumer, counting the one being read (≤ creditBuffers while open). */
  get bufferedBuffers(): number {
    return this.output.buffers;
  }

  private take(): StreamElement | undefined {
    if (this.current === undefined) {
      this.current = this.output.poll();
      this.index = 0;
      if (this.current === undefined) return undefined;
    }
    const element = this.current[this.index++];
    if (this.index >= this.current.length) {
      this.current = undefined;
      this.output.recycle();
    }
    if (element?.kind === "end") this.ended = true;
    return element;
  }
}
