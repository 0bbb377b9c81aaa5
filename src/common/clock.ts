// Monotonic time for deadlines. Never use Date.now() for a safety decision: wall clocks jump.
import { performance } from "node:perf_hooks";

/** Milliseconds on a monotonic clock (arbitrary origin). */
export function monotonicNow(): number {
  return performance.now();
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Resolves once monotonicNow() ≥ `deadline` (a timer may fire up to a millisecond early against
 * performance.now(); a safety wait must not end early), or rejects with the signal's reason.
 */
export async function sleepUntil(deadline: number, signal?: AbortSignal): Promise<void> {
  for (let left = deadline - monotonicNow(); left > 0; left = deadline - monotonicNow()) {
    await sleep(Math.ceil(left), signal);
  }
  signal?.throwIfAborted();
}
