// The producer half of every channel, local or remote: batches elements into buffers and holds sealed
// buffers until the transport takes them. Memory is bounded the way Flink bounds it with network buffers: a
// buffer holds at most `bufferRecords` records, and at most `capacity` buffers exist at once (queued here
// plus taken and not yet recycled by the transport); a send that needs one more waits (backpressure).
//
// The transport side is `poll()` / `recycle()`: a local consumer recycles a buffer once it has read all of
// it, so `capacity` is its credit; a remote subpartition recycles once the buffer is written to the stream,
// whose own credit bounds what is on the wire and at the consumer.
import { InvalidArgumentError, LifecycleError } from "../common/errors.ts";
import type { OutputChannel, StreamElement, StreamRecord } from "../runtime/streaming/elements.ts";
import { Wakeup } from "./wakeup.ts";

/** One network buffer: elements in order; at most `bufferRecords` records in all. */
export type ElementBuffer = readonly StreamElement[];

export interface BufferOptions {
  /** Buffers that may exist at once (sealed and not recycled); ≥ 1. */
  readonly capacity: number;
  /** Records per buffer; ≥ 1. */
  readonly bufferRecords: number;
  /** How long records may wait in a buffer that is not full; ≥ 0. Barriers and "end" never wait. */
  readonly flushMs: number;
}

export function validateBufferOptions(options: BufferOptions, what: string): void {
  const check = (name: string, value: number, min: number): void => {
    if (!Number.isInteger(value) || value < min)
      throw new InvalidArgumentError(`${what}: ${name} must be an integer ≥ ${min}, got ${value}`);
  };
  check("capacity (credit)", options.capacity, 1);
  check("bufferRecords", options.bufferRecords, 1);
  check("flushMs", options.flushMs, 0);
}

type State = "open" | "ended" | "closed";

export class BufferedOutput implements OutputChannel {
  private open: StreamElement[] = [];
  private openRecords: StreamRecord[] | undefined;
  private openCount = 0;
  private readonly queue: ElementBuffer[] = [];
  private outstanding = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushDue = false;
  private sending = false;
  private state: State = "open";
  private failure: Error | undefined;
  private readonly room = new Wakeup();
  private listener: (() => void) | undefined;

  constructor(
    private readonly options: BufferOptions,
    /** Names the channel in errors, e.g. "partition exec-1→sink, subpartition 2". */
    readonly name: string,
  ) {
    validateBufferOptions(options, name);
  }

  /**
   * Accepts an element (see OutputChannel). Calls must not overlap: await each one. After a rejected send
   * (abort, consumer gone) the channel is unusable; close it.
   */
  async send(element: StreamElement, signal: AbortSignal): Promise<void> {
    this.assertUsable("send()");
    if (this.sending)
      throw new LifecycleError(
        `${this.name}: send() called while another send() is waiting; await each send`,
      );
    signal.throwIfAborted();
    this.sending = true;
    try {
      if (element.kind === "records") {
        await this.appendRecords(element.records, signal);
      } else {
        this.open.push(element);
        this.openRecords = undefined;
        if (element.kind === "end") this.state = "ended";
        await this.seal(signal);
      }
    } finally {
      this.sending = false;
    }
  }

  /** Seals what is batched (even past capacity: close must not wait on a consumer) and releases the channel. */
  close(): Promise<void> {
    if (this.state !== "closed") {
      this.clearTimer();
      if (this.failure === undefined && this.open.length > 0) this.sealNow();
      this.state = "closed";
      this.room.notify();
      this.listener?.();
    }
    return Promise.resolve();
  }

  // --- transport side

  /** Called whenever a buffer becomes available or the channel closes or fails. One listener. */
  setListener(listener: (() => void) | undefined): void {
    this.listener = listener;
  }

  /** The next sealed buffer, which the caller must recycle() once it no longer holds it. */
  poll(): ElementBuffer | undefined {
    const buffer = this.queue.shift();
    if (buffer !== undefined) this.outstanding++;
    return buffer;
  }

  /** A polled buffer is released: the room it took is free again. */
  recycle(): void {
    if (this.outstanding === 0) throw new LifecycleError(`${this.name}: recycle() without a polled buffer`);
    this.outstanding--;
    if (this.flushDue && !this.sending && this.roomLeft() > 0) this.sealNow();
    this.room.notify();
  }

  /** The consumer is gone (or the partition released): sends reject with `error` from now on. Once. */
  fail(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.clearTimer();
    this.queue.length = 0;
    this.open = [];
    this.openRecords = undefined;
    this.openCount = 0;
    this.room.notify();
    this.listener?.();
  }

  /** Nothing more will become available: closed (or failed) and every sealed buffer polled. */
  get drained(): boolean {
    return (this.state === "closed" || this.failure !== undefined) && this.queue.length === 0;
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /** Buffers counted against capacity: queued plus polled and not recycled. */
  get buffers(): number {
    return this.queue.length + this.outstanding;
  }

  /** Records batched in the open buffer (not yet sealed). */
  get batchedRecords(): number {
    return this.openCount;
  }

  // --- internals

  private async appendRecords(records: readonly StreamRecord[], signal: AbortSignal): Promise<void> {
    const max = this.options.bufferRecords;
    let i = 0;
    while (i < records.length) {
      if (this.openCount >= max) await this.seal(signal);
      if (this.openRecords === undefined) {
        this.openRecords = [];
        this.open.push({ kind: "records", records: this.openRecords });
      }
      const take = Math.min(records.length - i, max - this.openCount);
      for (let j = 0; j < take; j++) this.openRecords.push(records[i + j]);
      this.openCount += take;
      i += take;
    }
    if (this.openCount >= max && this.roomLeft() > 0) this.sealNow();
    else if (this.openCount > 0 && this.timer === undefined) this.startTimer();
  }

  /** Waits for room, then seals the open buffer. */
  private async seal(signal: AbortSignal): Promise<void> {
    while (this.roomLeft() <= 0) {
      this.assertUsable("a waiting send()");
      await this.room.wait(signal);
    }
    this.assertUsable("a waiting send()");
    this.sealNow();
  }

  private sealNow(): void {
    if (this.open.length === 0) return;
    this.queue.push(this.open);
    this.open = [];
    this.openRecords = undefined;
    this.openCount = 0;
    this.flushDue = false;
    this.clearTimer();
    this.listener?.();
  }

  private startTimer(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.open.length === 0) return;
      // A send waiting for room seals on its own; otherwise seal now or as soon as room frees up.
      if (!this.sending && this.roomLeft() > 0) this.sealNow();
      else this.flushDue = true;
    }, this.options.flushMs);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private roomLeft(): number {
    return this.options.capacity - this.queue.length - this.outstanding;
  }

  private assertUsable(what: string): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.state === "closed") throw new LifecycleError(`${this.name}: ${what} after close()`);
    if (this.state === "ended" && !this.sending)
      throw new LifecycleError(`${this.name}: ${what} after "end"; nothing may follow the end of a channel`);
  }
}
