// The connection's watchdog (connection.ts): every third of the negotiated session timeout it presumes the
// session lost when the server answered nothing sent in the last session timeout, starts over when a fresh
// client never connected, and otherwise sends a sync that proves the session alive (session-client.ts).
import { monotonicNow } from "../../common/clock.ts";
import type { SessionClient } from "./session-client.ts";

/** What the watchdog needs of the connection. */
export interface WatchdogHooks {
  /** The current client while the connection is open; undefined otherwise (the watchdog then stops). */
  openClient(): SessionClient | undefined;
  /** Presumes the session lost: tell the drivers, then start a new client (a new session). */
  renew(reason: string): void;
  /** Starts a new client, closing the current one. */
  replaceClient(): void;
  /** An answered request sent at `sentAt` proves `c`'s session alive. */
  proven(c: SessionClient, sentAt: number): void;
}

export class SessionWatchdog {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly connectTimeoutMs: number,
    private readonly hooks: WatchdogHooks,
  ) {}

  /** Ticks every third of the session timeout while the connection is open. */
  schedule(): void {
    clearTimeout(this.timer);
    const c = this.hooks.openClient();
    if (!c) return;
    const every = Math.max(20, Math.floor(c.client.getSessionTimeout() / 3));
    this.timer = setTimeout(() => {
      this.tick();
      this.schedule();
    }, every);
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private tick(): void {
    const c = this.hooks.openClient();
    if (!c) return;
    const now = monotonicNow();
    const timeout = c.client.getSessionTimeout();
    if (c.sessionId !== undefined) {
      // The server answered nothing sent in the last session timeout: the session is expired or about to be.
      const silent = now - Math.max(c.provenAt, c.connectedAt);
      if (silent > timeout) {
        this.hooks.renew(`no answer from ZooKeeper for ${Math.round(silent)} ms`);
        return;
      }
    } else if (now - c.createdAt > Math.max(timeout, this.connectTimeoutMs)) {
      // A fresh client that never connected (seen: stuck DISCONNECTED after a server restart): start over.
      this.hooks.replaceClient();
      return;
    }
    if (c.isConnected()) c.probe((sentAt) => this.hooks.proven(c, sentAt));
  }
}
