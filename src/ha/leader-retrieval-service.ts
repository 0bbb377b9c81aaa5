// Follows the published leader of one election and notifies on every change, "no leader" included.
// Duplicate reports from the driver (re-reads after reconnects) are dropped; order is preserved.
import { LifecycleError } from "../common/errors.ts";
import type { LeaderInfo } from "./election-driver.ts";
import type { LeaderRetrievalDriver } from "./retrieval-driver.ts";

export interface LeaderRetrievalListener {
  /** The leader changed; undefined means there is no leader now. */
  notifyLeader(info: LeaderInfo | undefined): void;
  /** The driver hit a problem and keeps trying (optional). */
  handleError?(error: Error): void;
}

export class LeaderRetrievalService {
  private started = false;
  private known = false;
  private last: LeaderInfo | undefined;

  constructor(private readonly driver: LeaderRetrievalDriver) {}

  /** The last leader reported (undefined: none, or nothing read yet). */
  get current(): LeaderInfo | undefined {
    return this.last;
  }

  /** Starts following; the first notification carries the current state. Once only. */
  async start(listener: LeaderRetrievalListener): Promise<void> {
    if (this.started) throw new LifecycleError("leader retrieval was already started");
    this.started = true;
    await this.driver.start({
      onLeaderInformation: (info) => {
        if (this.known && sameLeader(this.last, info)) return;
        this.known = true;
        this.last = info;
        listener.notifyLeader(info);
      },
      onError: (error) => listener.handleError?.(error),
    });
  }

  async close(): Promise<void> {
    await this.driver.close();
  }
}

export function sameLeader(a: LeaderInfo | undefined, b: LeaderInfo | undefined): boolean {
  if (!a || !b) return a === b;
  return a.sessionId === b.sessionId && a.epoch === b.epoch && a.address === b.address && a.name === b.name;
}
