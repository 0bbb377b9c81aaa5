// "Something changed, look again": wakes every waiter at once. Waiters re-check their own condition, so a
// notification that comes between a check and the next wait is never needed twice (callers check, then
// wait with a timeout or re-check after every wake-up).
export class Notifier {
  private readonly waiters = new Set<() => void>();

  notify(): void {
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiting) wake();
  }

  /** Resolves at the next notify() or after `timeoutMs`; rejects with the signal's reason when it aborts. */
  next(signal: AbortSignal, timeoutMs?: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const done = (): void => {
        this.waiters.delete(wake);
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
      };
      const wake = (): void => {
        done();
        resolve();
      };
      const onAbort = (): void => {
        done();
        reject(signal.reason);
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(wake, timeoutMs);
      this.waiters.add(wake);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}
