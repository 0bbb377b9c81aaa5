// Shutdown requests for long-running commands: SIGTERM, SIGINT, or stdout going away (`vigil elect | head`).
// Installed first thing, so that a signal during connecting is a clean exit too, never the default kill.

let stdoutClosed = false;

/** True once stdout is gone (EPIPE); output stops quietly then. */
export function isStdoutClosed(): boolean {
  return stdoutClosed;
}

export class Shutdown {
  /** Resolves with what asked for the shutdown: "SIGTERM", "SIGINT" or "stdout closed". */
  readonly requested: Promise<string>;
  private resolve!: (cause: string) => void;
  private readonly onSignal = (signal: NodeJS.Signals): void => this.resolve(signal);
  private readonly onStdoutError = (e: NodeJS.ErrnoException): void => {
    stdoutClosed = true;
    this.resolve(e.code === "EPIPE" ? "stdout closed" : `stdout failed: ${e.message}`);
  };

  constructor() {
    this.requested = new Promise((resolve) => {
      this.resolve = resolve;
    });
    process.on("SIGTERM", this.onSignal);
    process.on("SIGINT", this.onSignal);
    process.stdout.on("error", this.onStdoutError);
  }

  /** `work`'s value, or undefined when a shutdown was requested first (a later rejection of `work` is dropped). */
  async race<T>(work: Promise<T>): Promise<T | undefined> {
    const stopped = Symbol("stopped");
    const result = await Promise.race([work, this.requested.then(() => stopped)]);
    if (result === stopped) {
      work.catch(() => {});
      return undefined;
    }
    return result as T;
  }

  dispose(): void {
    process.off("SIGTERM", this.onSignal);
    process.off("SIGINT", this.onSignal);
    process.stdout.off("error", this.onStdoutError);
  }
}
