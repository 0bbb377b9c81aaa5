// Runs tasks one at a time, in submission order. A failing task does not stop later ones; its error goes to
// the task's own promise. Used to serialise leadership events (DESIGN.md §2: one executor).
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();

  /** Queues `task`; resolves or rejects with its outcome once every earlier task has finished. */
  run<T>(task: () => T | Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Resolves once every task queued so far has finished. */
  drained(): Promise<void> {
    return this.tail;
  }
}
