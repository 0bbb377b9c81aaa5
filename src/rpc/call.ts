// Options of one RPC, shared by both sides: a client passes them to a call; a server hands its handler the
// call's cancellation and remaining deadline in the same shape, so a handler can be called in-process too.

export interface CallOptions {
  /** Aborts the call (client) / aborted when the caller cancelled or its deadline passed (server). */
  readonly signal?: AbortSignal;
  /** Deadline of the call, relative, in ms. Clients default to DEFAULT_CALL_TIMEOUT_MS; never unbounded. */
  readonly timeoutMs?: number;
}

export const DEFAULT_CALL_TIMEOUT_MS = 5_000;
