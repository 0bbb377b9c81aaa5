// Input side of a task: every InputChannel of every gate, read one element ahead each, with barrier alignment
// (Flink's aligned checkpoints). A channel that delivered barrier n is not read further until barrier n came on
// all channels; "end" counts as every later barrier. The reader never waits itself: poll() returns the next
// event or undefined, and the task waits on the shared Waker, which reads and mailbox posts both wake.
import type { InputChannel, StreamElement, StreamRecord } from "./elements.ts";

export type Barrier = Extract<StreamElement, { kind: "barrier" }>;

export type InputEvent =
  | { readonly kind: "records"; readonly records: readonly StreamRecord[] }
  /** Barrier n arrived on (or was passed by the end of) every channel: snapshot, forward, then completeAlignment. */
  | { readonly kind: "aligned"; readonly barrier: Barrier }
  /** A barrier of a later checkpoint overtook an alignment; the earlier checkpoint cannot complete here. */
  | { readonly kind: "abandoned"; readonly checkpointId: bigint; readonly reason: string }
  /** Every channel delivered "end". Reported once. */
  | { readonly kind: "ended" };

/** A level-triggered wake-up flag for one waiter. */
export class Waker {
  private woken = false;
  private resolve: (() => void) | undefined;

  wake(): void {
    this.woken = true;
    const resolve = this.resolve;
    this.resolve = undefined;
    resolve?.();
  }

  /** Resolves at the next wake() (at once if one came since the last wait); rejects when `signal` aborts. */
  async wait(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (!this.woken) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          this.resolve = undefined;
          reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        this.resolve = () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
      });
    }
    this.woken = false;
  }
}

interface ChannelSlot {
  readonly channel: InputChannel;
  reading: boolean;
  blocked: boolean;
  ended: boolean;
}

export class InputReader {
  private readonly slots: ChannelSlot[];
  private readonly ready: { slot: ChannelSlot; element: StreamElement }[] = [];
  private readonly reads = new AbortController();
  private failure: { error: unknown } | undefined;
  private aligning: { barrier: Barrier; arrived: Set<ChannelSlot> } | undefined;
  /** Barriers up to this id are stale (snapshotted or aborted): passed over without blocking. */
  private handledUpTo = 0n;
  private endReported = false;

  constructor(
    channels: readonly InputChannel[],
    private readonly waker: Waker,
    taskSignal: AbortSignal,
    restoredCheckpointId = 0n,
  ) {
    this.slots = channels.map((channel) => ({ channel, reading: false, blocked: false, ended: false }));
    this.handledUpTo = restoredCheckpointId;
    const abortReads = (): void => this.reads.abort(taskSignal.reason);
    if (taskSignal.aborted) abortReads();
    else taskSignal.addEventListener("abort", abortReads, { once: true, signal: this.reads.signal });
    for (const slot of this.slots) this.read(slot);
  }

  get allEnded(): boolean {
    return this.slots.every((s) => s.ended);
  }

  /** The checkpoint being aligned, if any. */
  get aligningId(): bigint | undefined {
    return this.aligning?.barrier.checkpointId;
  }

  /** The next event, or undefined when none is ready (wait on the Waker). Throws a channel's failure. */
  poll(): InputEvent | undefined {
    for (;;) {
      if (this.failure) throw this.failure.error;
      const aligned = this.alignedBarrier();
      if (aligned) return aligned;
      const next = this.ready.shift();
      if (next === undefined) {
        if (this.allEnded && !this.endReported && this.aligning === undefined) {
          this.endReported = true;
          return { kind: "ended" };
        }
        return undefined;
      }
      const { slot, element } = next;
      switch (element.kind) {
        case "records":
          this.read(slot);
          return { kind: "records", records: element.records };
        case "end":
          slot.ended = true;
          continue;
        case "barrier": {
          const abandoned = this.onBarrier(slot, element);
          if (abandoned) return abandoned;
          continue;
        }
      }
    }
  }

  /** After the aligned snapshot was taken and the barrier forwarded: unblocks every channel. */
  completeAlignment(checkpointId: bigint): void {
    if (this.aligning?.barrier.checkpointId !== checkpointId) return;
    this.aligning = undefined;
    if (checkpointId > this.handledUpTo) this.handledUpTo = checkpointId;
    this.unblockAll();
  }

  /** Checkpoint `checkpointId` was aborted: stop aligning it (if so) and pass over its barriers. */
  abortCheckpoint(checkpointId: bigint): void {
    if (checkpointId > this.handledUpTo) this.handledUpTo = checkpointId;
    if (this.aligning !== undefined && this.aligning.barrier.checkpointId <= checkpointId) {
      this.aligning = undefined;
      this.unblockAll();
    }
  }

  /** Marks checkpoints up to `checkpointId` as handled (snapshotted without barriers, after end of input). */
  markHandled(checkpointId: bigint): void {
    if (checkpointId > this.handledUpTo) this.handledUpTo = checkpointId;
  }

  /** Stops reading and releases every channel. Idempotent. */
  close(): void {
    this.reads.abort(new Error("input reader closed"));
    for (const slot of this.slots) slot.channel.close();
  }

  private onBarrier(slot: ChannelSlot, barrier: Barrier): InputEvent | undefined {
    const id = barrier.checkpointId;
    if (id <= this.handledUpTo || (this.aligning && id < this.aligning.barrier.checkpointId)) {
      this.read(slot);
      return undefined;
    }
    let abandoned: InputEvent | undefined;
    if (this.aligning && id > this.aligning.barrier.checkpointId) {
      const old = this.aligning.barrier.checkpointId;
      abandoned = {
        kind: "abandoned",
        checkpointId: old,
        reason: `barrier ${id} arrived before barrier ${old} was aligned`,
      };
      this.handledUpTo = old;
      this.aligning = undefined;
      this.unblockAll();
    }
    if (this.aligning === undefined) this.aligning = { barrier, arrived: new Set() };
    this.aligning.arrived.add(slot);
    slot.blocked = true;
    return abandoned;
  }

  private alignedBarrier(): InputEvent | undefined {
    const aligning = this.aligning;
    if (aligning === undefined) return undefined;
    if (!this.slots.every((s) => s.ended || aligning.arrived.has(s))) return undefined;
    return { kind: "aligned", barrier: aligning.barrier };
  }

  private unblockAll(): void {
    for (const slot of this.slots) {
      if (slot.blocked) {
        slot.blocked = false;
        this.read(slot);
      }
    }
  }

  private read(slot: ChannelSlot): void {
    if (slot.reading || slot.blocked || slot.ended || this.reads.signal.aborted) return;
    slot.reading = true;
    slot.channel.next(this.reads.signal).then(
      (element) => {
        slot.reading = false;
        this.ready.push({ slot, element });
        this.waker.wake();
      },
      (error: unknown) => {
        slot.reading = false;
        if (!this.reads.signal.aborted) this.failure ??= { error };
        this.waker.wake();
      },
    );
  }
}
