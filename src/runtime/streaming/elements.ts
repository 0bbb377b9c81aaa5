// What flows between subtasks (DESIGN.md §4): batches of records, checkpoint barriers, and the end of a
// bounded partition. Channels carry these elements one way, from one producer subtask to one consumer subtask,
// in order; a local channel (same TaskManager) and a remote one (src/exchange/, gRPC with credit-based flow
// control) implement the same two interfaces, so the task runtime never knows which it has.

/** A record: any value the structured-clone algorithm can copy (numbers, strings, bigint, arrays, objects, Map). */
export type StreamRecord = unknown;

export type StreamElement =
  | { readonly kind: "records"; readonly records: readonly StreamRecord[] }
  | {
      readonly kind: "barrier";
      readonly checkpointId: bigint;
      readonly timestampMs: number;
      readonly savepoint: boolean;
    }
  /** The producer finished (bounded input); nothing follows on this channel. */
  | { readonly kind: "end" };

/** The producer side of one channel. */
export interface OutputChannel {
  /**
   * Hands an element to the channel. Resolves once the channel accepted it; waits while the consumer has
   * granted no credit (backpressure) — memory stays bounded by the credit. Barriers and "end" are flushed at
   * once; records may be batched with later ones for a few milliseconds. Rejects with the signal's reason when
   * it aborts, and with UnavailableError when the consumer is gone.
   */
  send(element: StreamElement, signal: AbortSignal): Promise<void>;
  /** Flushes what is batched and releases the channel; after "end" the consumer sees the channel finish. */
  close(): Promise<void>;
}

/** The consumer side of one channel. */
export interface InputChannel {
  /**
   * The next element, in the producer's order; waits until one arrives. Consuming grants the producer credit.
   * Never called again after "end". Rejects with the signal's reason when it aborts, and with UnavailableError
   * when the producer is gone (the task fails and is restarted).
   */
  next(signal: AbortSignal): Promise<StreamElement>;
  /** Releases the channel (the producer sees the consumer go). Idempotent. */
  close(): void;
}
