// Remote calls whose wait has an owner: a call ends when it settles, when its owner's signal aborts, or at its
// deadline, whichever comes first, even when the callee ignores the signal it is handed (an in-process fake,
// a hung peer). A call that lost the race is left to settle on its own; its outcome is dropped, never unhandled.
import { DeadlineExceededError } from "../common/errors.ts";

export interface Bounds {
  /** Aborts the wait (and the call, through the signal it is handed) with the signal's reason. */
  readonly signal: AbortSignal;
  /** Rejects with DeadlineExceededError naming `what` after this many ms; no deadline when omitted. */
  readonly timeoutMs?: number;
  readonly what: string;
}

/** Runs `call` with a signal that aborts with the owner's signal or at the deadline; settles at the first. */
export function boundedCall<T>(call: (signal: AbortSignal) => Promise<T>, bounds: Bounds): Promise<T> {
  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const stop = (reason: unknown): void => {
      controller.abort(reason);
      reject(reason);
    };
    const onAbort = (): void => stop(bounds.signal.reason);
    const done = (): void => {
      clearTimeout(timer);
      bounds.signal.removeEventListener("abort", onAbort);
    };
    if (bounds.signal.aborted) {
      reject(bounds.signal.reason);
      return;
    }
    bounds.signal.addEventListener("abort", onAbort, { once: true });
    if (bounds.timeoutMs !== undefined) {
      const ms = Math.max(0, bounds.timeoutMs);
      timer = setTimeout(
        () => stop(new DeadlineExceededError(`${bounds.what}: no answer within ${Math.round(ms)} ms`)),
        ms,
      );
    }
    let pending: Promise<T>;
    try {
      pending = call(controller.signal);
    } catch (e: unknown) {
      pending = Promise.reject(e);
    }
    pending.then(
      (value) => {
        done();
        resolve(value);
      },
      (e: unknown) => {
        done();
        reject(e);
      },
    );
  });
}
