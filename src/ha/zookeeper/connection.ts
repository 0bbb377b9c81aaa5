// One ZooKeeper client and its session, owned here; the drivers and the store never keep a client themselves.
//
// The library has no read timeout and reports EXPIRED only after it reconnects (DESIGN.md §7), so this class
// keeps its own proof of life: an answered request that went through the ZooKeeper *leader* — a `sync` sent
// every third of the negotiated session timeout, or a write (accepted, or refused with an error code such as
// NO_NODE) — proves the session alive at the time it was *sent*, and
//   deadline = latest such send time + negotiated session timeout - margin.
// Reads (exists, getData, getChildren, addWatch) never count: the server we are connected to answers them
// from its local copy, and a follower cut off from the leader keeps doing so for up to syncLimit × tickTime
// (often longer than the session timeout) while the leader, on the majority side, expires our session and
// another contender is elected. Only the leader expires sessions; it learns that a follower-connected client
// touched its session (at the follower's receipt, after the send time) from that follower's ping replies.
// When nothing has been answered for a whole session timeout — the server froze, the follower lost the
// leader, or the client is stuck DISCONNECTED — the session is presumed lost: the client is closed and a new
// one (a new session) is created. Every request carries its own timeout.
// One client and its proof of life: session-client.ts; the watchdog: session-watchdog.ts; the persistent
// recursive watches, re-added on every connect: persistent-watch.ts.
import { type Client, State } from "node-zookeeper-client";
import { monotonicNow } from "../../common/clock.ts";
import { BackendUnavailableError, LifecycleError } from "../../common/errors.ts";
import type { Logger } from "../../common/logger.ts";
import type { HaConfig } from "../../config/ha-config.ts";
import {
  addRecursiveWatch,
  interceptNotifications,
  RecursiveWatches,
  removeRecursiveWatch,
} from "./persistent-watch.ts";
import { ZkCode, ZkResultError } from "./requests.ts";
import { timedCall } from "./round-trips.ts";
import { SessionClient } from "./session-client.ts";
import { SessionWatchdog } from "./session-watchdog.ts";

export interface SessionListener {
  /** The session is gone (expired, or presumed lost): its ephemeral nodes and watches must be assumed gone. */
  onSessionLost?(reason: string): void;
  /** Connected with a new session: campaign again, re-arm watches, re-read. */
  onNewSession?(): void;
  /** Reconnected within the same session (the library re-set its watches); re-read to catch up. */
  onReconnected?(): void;
  /** The session is proven alive until `deadline` (monotonic ms). */
  onAlive?(deadline: number): void;
}

type Phase = "created" | "connecting" | "open" | "closed";

export class ZooKeeperConnection {
  private phase: Phase = "created";
  private current: SessionClient | undefined;
  private readonly listeners = new Set<SessionListener>();
  private readonly connectedWaiters = new Set<() => void>();
  private readonly recursive = new RecursiveWatches();
  private readonly watchdog: SessionWatchdog;
  private readonly connectString: string;

  constructor(
    private readonly config: HaConfig,
    private readonly logger: Logger,
  ) {
    this.connectString = config.endpoints.join(",");
    this.watchdog = new SessionWatchdog(config.connectTimeoutMs, {
      openClient: () => (this.phase === "open" ? this.current : undefined),
      renew: (reason) => this.renew(reason),
      replaceClient: () => this.replaceClient(),
      proven: (c, sentAt) => this.proven(c, sentAt),
    });
  }

  /** Opens the first session; BackendUnavailableError naming the endpoints when none answers in time. */
  async connect(): Promise<void> {
    if (this.phase !== "created")
      throw new LifecycleError("ZooKeeper connection: connect() was already called");
    this.phase = "connecting";
    this.replaceClient();
    const ok = await this.waitConnected(this.config.connectTimeoutMs);
    if (!ok || this.phase !== "connecting") {
      await this.close();
      throw new BackendUnavailableError(
        `ZooKeeper at ${this.connectString} did not answer within ${this.config.connectTimeoutMs} ms; check that ZooKeeper runs there and is reachable`,
      );
    }
    this.phase = "open";
    this.watchdog.schedule();
  }

  get isOpen(): boolean {
    return this.phase === "open";
  }

  /** The current session's id (hex), or undefined while there is none. */
  get sessionId(): string | undefined {
    return this.current?.connected ? this.current.sessionId : undefined;
  }

  /** Negotiated session timeout (the requested one before the first connect). */
  get sessionTimeoutMs(): number {
    return this.current?.client.getSessionTimeout() ?? this.config.ttlMs;
  }

  /** Monotonic ms until which the current session is proven alive; 0 when nothing proves it. */
  get deadline(): number {
    return this.current?.deadline ?? 0;
  }

  subscribe(listener: SessionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * A read: BackendUnavailableError when not answered in time; ZkResultError for a server error code. A read
   * proves nothing about the session (it is answered locally, see above).
   */
  read<T>(
    what: string,
    path: string,
    call: (client: Client, done: (e: unknown, v?: T) => void) => void,
  ): Promise<T> {
    return this.request("read", what, path, call);
  }

  /**
   * A write: BackendUnavailableError when nothing was sent; PossiblyInconsistentStateError when it was sent and
   * not answered (timeout, connection loss); ZkResultError for a server error code. An answered write went
   * through the leader: it proves the session alive at its send time.
   */
  write<T>(
    what: string,
    path: string,
    call: (client: Client, done: (e: unknown, v?: T) => void) => void,
  ): Promise<T> {
    return this.request("write", what, path, call);
  }

  /** Creates `path` and its missing ancestors as empty persistent znodes; existing ones are fine. */
  async ensurePath(path: string): Promise<void> {
    const exists = await this.read("exists", path, (c, done) => c.exists(path, done));
    if (exists) return;
    let p = "";
    for (const part of path.split("/").slice(1)) {
      p += `/${part}`;
      const at = p;
      try {
        await this.write("create", at, (c, done) => c.create(at, done));
      } catch (e: unknown) {
        if (!(e instanceof ZkResultError && e.zkCode === ZkCode.NODE_EXISTS)) throw e;
      }
    }
  }

  /**
   * Reports every create / data change / delete at or below `path` (a persistent recursive watch, re-added
   * after every reconnect and new session: listen for those to resync). Returns the function that stops it.
   */
  async watchRecursive(path: string, listener: (type: number, path: string) => void): Promise<() => void> {
    const stop = this.recursive.add(path, listener, () => {
      const c = this.current;
      if (c?.isConnected()) removeRecursiveWatch(c.client, path, () => {});
    });
    try {
      await this.read<void>("addWatch", path, (c, done) => addRecursiveWatch(c, path, (e) => done(e)));
    } catch (e: unknown) {
      stop();
      throw e;
    }
    return stop;
  }

  /** Closes the client (ending the session at once when the server answers). Idempotent. */
  async close(): Promise<void> {
    if (this.phase === "closed") return;
    this.phase = "closed";
    this.watchdog.stop();
    const c = this.current;
    this.current = undefined;
    for (const w of this.connectedWaiters) w();
    if (c) await c.close(c.isConnected() ? 1_000 : 0);
  }

  private async request<T>(
    kind: "read" | "write",
    what: string,
    path: string,
    call: (client: Client, done: (e: unknown, v?: T) => void) => void,
  ): Promise<T> {
    const started = monotonicNow();
    const timeoutMs = this.config.requestTimeoutMs;
    if (!(await this.waitConnected(timeoutMs))) {
      throw new BackendUnavailableError(
        `ZooKeeper ${what} ${path} at ${this.connectString}: not connected within ${timeoutMs} ms`,
      );
    }
    const c = this.current!;
    const remainingMs = timeoutMs - (monotonicNow() - started);
    const request = { kind, what, path, timeoutMs, remainingMs, where: this.connectString };
    return timedCall(c.client, request, call, (sentAt) => {
      if (kind === "write") this.proven(c, sentAt);
    });
  }

  private proven(c: SessionClient, sentAt: number): void {
    if (c !== this.current || sentAt <= c.provenAt) return;
    c.provenAt = sentAt;
    const deadline = this.deadline;
    for (const l of [...this.listeners]) l.onAlive?.(deadline);
  }

  /** Resolves true once connected (or at once if connected), false after `timeoutMs` or on close. */
  private waitConnected(timeoutMs: number): Promise<boolean> {
    const ready = (): boolean =>
      this.phase !== "closed" && this.current !== undefined && this.current.isConnected();
    if (ready()) return Promise.resolve(true);
    if (this.phase === "closed") return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.connectedWaiters.delete(done);
        resolve(ready());
      };
      const timer = setTimeout(done, timeoutMs);
      this.connectedWaiters.add(done);
    });
  }

  private replaceClient(): void {
    const old = this.current;
    const c = new SessionClient(this.connectString, this.config);
    const client = c.client;
    this.current = c;
    client.on("state", (state: State) => this.onState(c, state));
    interceptNotifications(client, (type, path) => {
      if (c !== this.current) return;
      this.recursive.dispatch(type, path);
    });
    client.connect();
    // The old session may still be alive: its close request ends it (and its ephemeral latch) as soon as a
    // server reads it; past a session timeout the server has expired it anyway and the socket is dropped.
    if (old) void old.close(this.config.ttlMs);
  }

  private onState(c: SessionClient, state: State): void {
    if (c !== this.current || this.phase === "closed") return;
    if (state === State.SYNC_CONNECTED) {
      const id = c.client.getSessionId().toString("hex");
      const fresh = c.sessionId === undefined;
      c.sessionId = id;
      c.connected = true;
      c.connectedAt = monotonicNow();
      this.logger.debug("zookeeper connected", {
        session: id,
        timeoutMs: c.client.getSessionTimeout(),
        fresh,
      });
      // Persistent watches do not survive a reconnect with this library (see persistent-watch.ts).
      this.recursive.addAll(c.client);
      for (const w of [...this.connectedWaiters]) w();
      c.probe((sentAt) => this.proven(c, sentAt));
      if (this.phase !== "open" && this.phase !== "connecting") return;
      for (const l of [...this.listeners]) {
        if (fresh) l.onNewSession?.();
        else l.onReconnected?.();
      }
    } else if (state === State.DISCONNECTED) {
      c.connected = false;
      this.logger.debug("zookeeper disconnected", { session: c.sessionId });
    } else if (state === State.EXPIRED) {
      c.connected = false;
      this.renew(`ZooKeeper session ${c.sessionId} expired`);
    } else if (state === State.AUTH_FAILED) {
      c.connected = false;
      this.renew("ZooKeeper authentication failed");
    }
  }

  /** Presumes the session lost: tell the drivers, then start a new client (a new session). */
  private renew(reason: string): void {
    if (this.phase === "closed") return;
    const had = this.current?.sessionId;
    this.logger.warn("zookeeper session lost; opening a new session", { reason, session: had });
    this.replaceClient();
    if (had !== undefined) for (const l of [...this.listeners]) l.onSessionLost?.(reason);
  }
}
