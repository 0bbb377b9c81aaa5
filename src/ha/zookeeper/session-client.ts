// One ZooKeeper client of the connection (connection.ts) and its session: what proves that session alive (the
// send time of the latest answered request through the ZooKeeper leader), the sync probe, and closing.
import { type Client, createClient, State } from "node-zookeeper-client";
import { monotonicNow } from "../../common/clock.ts";
import type { HaConfig } from "../../config/ha-config.ts";
import { sync } from "./round-trips.ts";

export class SessionClient {
  readonly client: Client;
  readonly createdAt: number;
  /** Hex session id once connected. */
  sessionId: string | undefined = undefined;
  /** Latest send time (monotonic) of an answered request that went through the ZooKeeper leader. */
  provenAt = 0;
  /** When the current connection was established (monotonic). */
  connectedAt = 0;
  connected = false;
  private probing = false;

  /** Creates the client; it connects on `client.connect()`. */
  constructor(
    connectString: string,
    private readonly config: HaConfig,
  ) {
    this.client = createClient(connectString, {
      sessionTimeout: config.ttlMs,
      spinDelay: Math.min(1_000, Math.max(50, Math.round(config.ttlMs / 20))),
      retries: 0,
    });
    this.createdAt = monotonicNow();
  }

  /** Monotonic ms until which this session is proven alive; 0 when nothing proves it. */
  get deadline(): number {
    if (this.sessionId === undefined || this.provenAt <= 0) return 0;
    const timeout = this.client.getSessionTimeout();
    return this.provenAt + timeout - this.marginMs(timeout);
  }

  /**
   * The margin for a negotiated session timeout: at least a third of it. Only the leader expires sessions, and
   * it learns of a touch at a follower only from that follower's reply to its next ping (every tickTime / 2,
   * and the server bounds the timeout to at least 2 × tickTime, so tickTime / 2 <= timeout / 4). If the
   * follower loses the leader right after answering our latest sync, that touch may never be reported; the
   * leader then knows the previous one, which arrived at most one watchdog period (timeout / 3, more than a
   * ping interval, so a ping reply carried it) earlier. So the leader cannot expire the session before
   * (send time of the latest answered sync − timeout / 3) + timeout, which is the deadline below.
   */
  private marginMs(timeout: number): number {
    return Math.max(this.config.safetyMarginMs, timeout / 3);
  }

  /** Connected now, by our own bookkeeping and by the library's state. */
  isConnected(): boolean {
    return this.connected && this.client.getState() === State.SYNC_CONNECTED;
  }

  /**
   * A sync, which the ZooKeeper leader answers (see round-trips.ts); at most one in flight. `onAnswered` gets
   * the send time of a sync answered without error.
   */
  probe(onAnswered: (sentAt: number) => void): void {
    if (this.probing) return;
    this.probing = true;
    const sentAt = monotonicNow();
    try {
      sync(this.client, "/", (e) => {
        this.probing = false;
        if (!e) onAnswered(sentAt);
      });
    } catch {
      this.probing = false;
    }
  }

  /**
   * Closes the client and resolves once the server confirmed (which ends the session at once) or after
   * `graceMs`; then drops the socket if the library still holds it (it waits forever on a frozen server).
   */
  close(graceMs: number): Promise<void> {
    const client = this.client;
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        const internal = client as Client & { connectionManager?: { socket?: { destroy(): void } } };
        internal.connectionManager?.socket?.destroy();
        resolve();
      };
      const timer = setTimeout(finish, graceMs);
      client.on("state", (s: State) => {
        if (s === State.DISCONNECTED) finish();
      });
      client.close();
    });
  }
}
