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
import { createClient, type Client, State } from "node-zookeeper-client";
import { monotonicNow } from "../../common/clock.ts";
import { BackendUnavailableError, LifecycleError } from "../../common/errors.ts";
import type { Logger } from "../../common/logger.ts";
import type { HaConfig } from "../../config/ha-config.ts";
import { addRecursiveWatch, interceptNotifications, removeRecursiveWatch } from "./persistent-watch.ts";
import { ZkCode, ZkResultError } from "./requests.ts";
import { sync, timedCall } from "./round-trips.ts";

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

interface Current {
  readonly client: Client;
  readonly createdAt: number;
  /** Hex session id once connected. */
  sessionId: string | undefined;
  /** Latest send time (monotonic) of an answered request that went through the ZooKeeper leader. */
  provenAt: number;
  /** When the current connection was established (monotonic). */
  connectedAt: number;
  probing: boolean;
  connected: boolean;
}

export class ZooKeeperConnection {
  private phase: Phase = "created";
  private current: Current | undefined;
  private readonly listeners = new Set<SessionListener>();
  private readonly connectedWaiters = new Set<() => void>();
  private readonly recursive = new Map<string, Set<(type: number, path: string) => void>>();
  private watchdog: NodeJS.Timeout | undefined;
  private readonly connectString: string;

  constructor(
    private readonly config: HaConfig,
    private readonly logger: Logger,
  ) {
    this.connectString = config.endpoints.join(",");
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
    this.scheduleWatchdog();
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
    const c = this.current;
    if (!c || c.sessionId === undefined || c.provenAt <= 0) return 0;
    const timeout = c.client.getSessionTimeout();
    return c.provenAt + timeout - this.marginMs(timeout);
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
    let listeners = this.recursive.get(path);
    if (!listeners) {
      listeners = new Set();
      this.recursive.set(path, listeners);
    }
    const all = listeners;
    all.add(listener);
    const stop = (): void => {
      all.delete(listener);
      if (all.size > 0 || this.recursive.get(path) !== all) return;
      this.recursive.delete(path);
      const c = this.current;
      if (c && this.connected(c)) removeRecursiveWatch(c.client, path, () => {});
    };
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
    clearTimeout(this.watchdog);
    const c = this.current;
    this.current = undefined;
    for (const w of this.connectedWaiters) w();
    if (c) await closeClient(c.client, this.connected(c) ? 1_000 : 0);
  }

  private connected(c: Current): boolean {
    return c.connected && c.client.getState() === State.SYNC_CONNECTED;
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

  private proven(c: Current, sentAt: number): void {
    if (c !== this.current || sentAt <= c.provenAt) return;
    c.provenAt = sentAt;
    const deadline = this.deadline;
    for (const l of [...this.listeners]) l.onAlive?.(deadline);
  }

  /** Resolves true once connected (or at once if connected), false after `timeoutMs` or on close. */
  private waitConnected(timeoutMs: number): Promise<boolean> {
    const ready = (): boolean =>
      this.phase !== "closed" && this.current !== undefined && this.connected(this.current);
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
    const client = createClient(this.connectString, {
      sessionTimeout: this.config.ttlMs,
      spinDelay: Math.min(1_000, Math.max(50, Math.round(this.config.ttlMs / 20))),
      retries: 0,
    });
    const c: Current = {
      client,
      createdAt: monotonicNow(),
      sessionId: undefined,
      provenAt: 0,
      connectedAt: 0,
      probing: false,
      connected: false,
    };
    this.current = c;
    client.on("state", (state: State) => this.onState(c, state));
    interceptNotifications(client, (type, path) => {
      if (c !== this.current) return;
      for (const [root, listeners] of this.recursive) {
        if (path !== root && !path.startsWith(`${root}/`)) continue;
        for (const l of [...listeners]) l(type, path);
      }
    });
    client.connect();
    // The old session may still be alive: its close request ends it (and its ephemeral latch) as soon as a
    // server reads it; past a session timeout the server has expired it anyway and the socket is dropped.
    if (old) void closeClient(old.client, this.config.ttlMs);
  }

  private onState(c: Current, state: State): void {
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
      for (const path of this.recursive.keys()) addRecursiveWatch(c.client, path, () => {});
      for (const w of [...this.connectedWaiters]) w();
      this.probe(c);
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

  private scheduleWatchdog(): void {
    clearTimeout(this.watchdog);
    if (this.phase !== "open") return;
    const every = Math.max(20, Math.floor(this.sessionTimeoutMs / 3));
    this.watchdog = setTimeout(() => {
      this.tick();
      this.scheduleWatchdog();
    }, every);
  }

  private tick(): void {
    const c = this.current;
    if (!c || this.phase !== "open") return;
    const now = monotonicNow();
    const timeout = c.client.getSessionTimeout();
    if (c.sessionId !== undefined) {
      // The server answered nothing sent in the last session timeout: the session is expired or about to be.
      const silent = now - Math.max(c.provenAt, c.connectedAt);
      if (silent > timeout) {
        this.renew(`no answer from ZooKeeper for ${Math.round(silent)} ms`);
        return;
      }
    } else if (now - c.createdAt > Math.max(timeout, this.config.connectTimeoutMs)) {
      // A fresh client that never connected (seen: stuck DISCONNECTED after a server restart): start over.
      this.replaceClient();
      return;
    }
    if (this.connected(c)) this.probe(c);
  }

  /** A sync, which the ZooKeeper leader answers (see round-trips.ts); at most one in flight. */
  private probe(c: Current): void {
    if (c.probing) return;
    c.probing = true;
    const sentAt = monotonicNow();
    try {
      sync(c.client, "/", (e) => {
        c.probing = false;
        if (!e) this.proven(c, sentAt);
      });
    } catch {
      c.probing = false;
    }
  }
}

/**
 * Closes a client and resolves once the server confirmed (which ends the session at once) or after `graceMs`;
 * then drops the socket if the library still holds it (it waits forever on a frozen server).
 */
function closeClient(client: Client, graceMs: number): Promise<void> {
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
