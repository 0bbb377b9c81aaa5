// A condition to wait on: waiters re-check their condition after every notify(), so a notify with nobody
// waiting is simply lost and never needs to be remembered.

export class Wakeup {
  private readonly waiters = new Set<() => void>();

  /** Resolves at the next notify(); rejects with the signal's reason when it aborts first. */
  wait(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = (): void => {
        this.waiters.delete(wake);
        reject(signal.reason);
      };
      this.waiters.add(wake);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Wakes every current waiter. */
  notify(): void {
    if (this.waiters.size === 0) return;
    const woken = [...this.waiters];
    this.waiters.clear();
    for (const wake of woken) wake();
  }

  get waiting(): number {
    return this.waiters.size;
  }
}
