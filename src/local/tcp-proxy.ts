// A TCP proxy on loopback in front of one upstream address, whose behaviour a test switches at runtime: the
// chaos harness puts one between each JobManager and each coordinator member to cut a leader off
// (`hold`: a partition that heals the way TCP does, by delivering what was sent) or to lose the replies of
// requests that did reach the server (`drop-replies`: committed writes with an unknown outcome).
import { createServer, type Server, Socket } from "node:net";
import { InvalidArgumentError, VigilError } from "../common/errors.ts";

/**
 * forward: bytes flow both ways. hold: nothing flows; bytes (and closes) are buffered and delivered, in
 * order, on the next switch to forward, as TCP retransmits after a partition heals; connections accepted
 * meanwhile reach the upstream only then. drop-replies: client→upstream flows; upstream→client bytes are
 * discarded (counted in bytesDropped).
 */
export type ProxyMode = "forward" | "hold" | "drop-replies";

export interface TcpProxyOptions {
  /** "host:port" every accepted connection is relayed to. */
  readonly upstream: string;
  /** For messages, e.g. "jm-2 → etcd-0". Default "tcp proxy → <upstream>". */
  readonly name?: string;
  /** Most bytes one connection may buffer in `hold` (both directions) before it is reset. Default 8 MiB. */
  readonly maxHeldBytes?: number;
  /** Default "forward". */
  readonly mode?: ProxyMode;
  /** Called with each TcpProxyOverflowError (also kept in `errors`). */
  readonly onError?: (error: Error) => void;
}

export interface TcpProxyStats {
  readonly mode: ProxyMode;
  /** Connections accepted since start. */
  readonly connections: number;
  /** Connections open now. */
  readonly open: number;
  /** Bytes written to the upstream (delivered, including held bytes once released). */
  readonly bytesToUpstream: number;
  /** Bytes written to clients. */
  readonly bytesToClient: number;
  /** Upstream→client bytes discarded by drop-replies (including held replies released into drop-replies). */
  readonly bytesDropped: number;
  /** Bytes buffered by `hold` right now, both directions. */
  readonly heldBytes: number;
  /** Connections destroyed by reset(). */
  readonly resets: number;
  /** Connections reset because their held bytes passed maxHeldBytes. */
  readonly overflows: number;
}

/** A held connection buffered more than the proxy allows; the connection was reset. */
export class TcpProxyOverflowError extends VigilError {
  constructor(
    readonly proxy: string,
    readonly connection: number,
    readonly limit: number,
  ) {
    super(
      "UNAVAILABLE",
      `${proxy}: connection #${connection} buffered more than ${limit} bytes while held, so it was reset; ` +
        "shorten the hold or raise maxHeldBytes",
    );
  }
}

const DEFAULT_MAX_HELD_BYTES = 8 * 1024 * 1024;

export class TcpProxy {
  readonly name: string;
  readonly upstream: string;
  readonly #server: Server;
  readonly #host: string;
  readonly #port: number;
  readonly #maxHeld: number;
  readonly #onError: ((error: Error) => void) | undefined;
  readonly #connections = new Set<Relay>();
  readonly #counters: Counters = { toUpstream: 0, toClient: 0, dropped: 0, resets: 0, overflows: 0 };
  readonly #listenPort: number;
  readonly #errors: Error[] = [];
  #mode: ProxyMode;
  #closing: Promise<void> | undefined;
  #accepted = 0;

  private constructor(
    server: Server,
    options: TcpProxyOptions,
    upstream: { host: string; port: number },
    listenPort: number,
  ) {
    this.#server = server;
    this.#listenPort = listenPort;
    this.upstream = options.upstream;
    this.name = options.name ?? `tcp proxy → ${options.upstream}`;
    this.#host = upstream.host;
    this.#port = upstream.port;
    this.#maxHeld = options.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES;
    this.#onError = options.onError;
    this.#mode = options.mode ?? "forward";
  }

  /** Listens on 127.0.0.1 on a free port. */
  static async start(options: TcpProxyOptions): Promise<TcpProxy> {
    const upstream = parseAddress(options.upstream);
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("tcp proxy: no TCP address");
    const proxy = new TcpProxy(server, options, upstream, address.port);
    server.on("connection", (socket) => proxy.#accept(socket));
    // Errors after listening (EMFILE on accept) must not crash the process; accept simply fails.
    server.on("error", () => {});
    return proxy;
  }

  /** "127.0.0.1:PORT" to give clients instead of the upstream. */
  get address(): string {
    return `127.0.0.1:${this.#listenPort}`;
  }

  get port(): number {
    return this.#listenPort;
  }

  get mode(): ProxyMode {
    return this.#mode;
  }

  /** Everything that went wrong on a connection (overflows), oldest first. */
  get errors(): readonly Error[] {
    return this.#errors;
  }

  /** Switches every connection, open and future. Leaving hold releases what was buffered, in order. */
  setMode(mode: ProxyMode): void {
    if (this.#closing) return;
    this.#mode = mode;
    for (const relay of [...this.#connections]) relay.apply(mode);
  }

  /** Destroys every open connection at once (clients see a reset); held bytes are discarded. */
  reset(): void {
    for (const relay of [...this.#connections]) {
      this.#counters.resets++;
      relay.destroy();
    }
  }

  stats(): TcpProxyStats {
    let held = 0;
    for (const relay of this.#connections) held += relay.heldBytes;
    return {
      mode: this.#mode,
      connections: this.#accepted,
      open: this.#connections.size,
      bytesToUpstream: this.#counters.toUpstream,
      bytesToClient: this.#counters.toClient,
      bytesDropped: this.#counters.dropped,
      heldBytes: held,
      resets: this.#counters.resets,
      overflows: this.#counters.overflows,
    };
  }

  /** Stops listening and destroys every connection; resolves once every socket is closed. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    const relays = [...this.#connections];
    for (const relay of relays) relay.destroy();
    await Promise.all([stopped, ...relays.map((r) => r.closed)]);
  }

  #accept(client: Socket): void {
    if (this.#closing) {
      client.destroy();
      return;
    }
    const id = ++this.#accepted;
    const relay = new Relay(id, client, this.#host, this.#port, {
      counters: this.#counters,
      maxHeld: this.#maxHeld,
      overflow: () => {
        this.#counters.overflows++;
        const error = new TcpProxyOverflowError(this.name, id, this.#maxHeld);
        this.#errors.push(error);
        this.#onError?.(error);
      },
    });
    this.#connections.add(relay);
    void relay.closed.then(() => this.#connections.delete(relay));
    relay.apply(this.#mode);
    client.resume();
  }
}

interface Counters {
  toUpstream: number;
  toClient: number;
  dropped: number;
  resets: number;
  overflows: number;
}

interface RelayContext {
  readonly counters: Counters;
  readonly maxHeld: number;
  overflow(): void;
}

/** One side's pending work while held: data chunks, then maybe its end (FIN) or its abrupt close. */
interface Held {
  chunks: Buffer[];
  bytes: number;
  /** "end": the sender half-closed; "close": the sender's socket is gone (propagate as a destroy). */
  finish: "end" | "close" | undefined;
}

/** One accepted connection and its upstream connection. */
class Relay {
  readonly closed: Promise<void>;
  #upstream: Socket | undefined;
  #mode: ProxyMode = "hold";
  readonly #toUpstream: Held = { chunks: [], bytes: 0, finish: undefined };
  readonly #toClient: Held = { chunks: [], bytes: 0, finish: undefined };
  #destroyed = false;
  #clientClosed = false;
  #upstreamClosed = true;
  #settle: () => void = () => {};

  constructor(
    readonly id: number,
    private readonly client: Socket,
    private readonly host: string,
    private readonly port: number,
    private readonly ctx: RelayContext,
  ) {
    this.closed = new Promise<void>((resolve) => {
      this.#settle = resolve;
    });
    client.on("error", () => {}); // Reported through `close`.
    client.on("data", (chunk: Buffer) => this.#fromClient(chunk));
    client.on("end", () => this.#finish(this.#toUpstream, "end"));
    client.on("close", () => {
      this.#clientClosed = true;
      this.#finish(this.#toUpstream, "close");
      this.#maybeClosed();
    });
  }

  get heldBytes(): number {
    return this.#toUpstream.bytes + this.#toClient.bytes;
  }

  apply(mode: ProxyMode): void {
    if (this.#destroyed) return;
    this.#mode = mode;
    if (mode === "hold") return;
    // A connection accepted during hold reaches the upstream only now, as a delayed SYN would.
    if (!this.#upstream) this.#connect();
    this.#release(this.#toUpstream, this.#upstream!, this.client, false);
    this.#release(this.#toClient, this.client, this.#upstream!, mode === "drop-replies");
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#toUpstream.chunks = [];
    this.#toClient.chunks = [];
    this.#toUpstream.bytes = this.#toClient.bytes = 0;
    abort(this.client);
    if (this.#upstream) abort(this.#upstream);
    this.#maybeClosed();
  }

  #connect(): void {
    const upstream = new Socket({ allowHalfOpen: true });
    this.#upstream = upstream;
    this.#upstreamClosed = false;
    upstream.on("error", () => {}); // Reported through `close`.
    upstream.on("data", (chunk: Buffer) => this.#fromUpstream(chunk));
    upstream.on("end", () => this.#finish(this.#toClient, "end"));
    upstream.on("close", () => {
      this.#upstreamClosed = true;
      this.#finish(this.#toClient, "close");
      this.#maybeClosed();
    });
    upstream.connect(this.port, this.host);
  }

  #fromClient(chunk: Buffer): void {
    if (this.#mode === "hold" || !this.#upstream) {
      this.#hold(this.#toUpstream, chunk);
      return;
    }
    this.#write(this.#upstream, this.client, chunk, "toUpstream");
  }

  #fromUpstream(chunk: Buffer): void {
    if (this.#mode === "hold") {
      this.#hold(this.#toClient, chunk);
    } else if (this.#mode === "drop-replies") {
      this.ctx.counters.dropped += chunk.length;
    } else {
      this.#write(this.client, this.#upstream!, chunk, "toClient");
    }
  }

  #hold(held: Held, chunk: Buffer): void {
    held.chunks.push(chunk);
    held.bytes += chunk.length;
    if (this.heldBytes > this.ctx.maxHeld) {
      this.ctx.overflow();
      this.destroy();
    }
  }

  /** An end or close of one side travels like data: now when flowing, after the held bytes otherwise. */
  #finish(held: Held, how: "end" | "close"): void {
    if (this.#destroyed) return;
    if (held.finish !== "close") held.finish = how;
    const flowing = this.#mode !== "hold" && this.#upstream !== undefined;
    if (!flowing) return;
    if (held === this.#toUpstream) this.#release(held, this.#upstream!, this.client, false);
    else this.#release(held, this.client, this.#upstream!, this.#mode === "drop-replies");
  }

  #release(held: Held, to: Socket, from: Socket, drop: boolean): void {
    const chunks = held.chunks;
    held.chunks = [];
    held.bytes = 0;
    for (const chunk of chunks) {
      if (drop) this.ctx.counters.dropped += chunk.length;
      else this.#write(to, from, chunk, to === this.client ? "toClient" : "toUpstream");
    }
    const finish = held.finish;
    held.finish = undefined;
    // The other side then has nothing left to talk to: close it once what was written has gone out.
    if (finish === "end") to.end();
    else if (finish === "close") to.destroySoon();
  }

  #write(to: Socket, from: Socket, chunk: Buffer, counter: "toUpstream" | "toClient"): void {
    if (to.destroyed || to.writableEnded) return;
    this.ctx.counters[counter] += chunk.length;
    // TCP's own flow control: stop reading the sender while the receiver's buffer is full.
    if (!to.write(chunk) && !from.isPaused()) {
      from.pause();
      to.once("drain", () => from.resume());
    }
  }

  #maybeClosed(): void {
    if (this.#clientClosed && this.#upstreamClosed) this.#settle();
  }
}

/** Closes a socket with a reset (the peer sees ECONNRESET) when TCP allows it, else plainly. */
function abort(socket: Socket): void {
  if (socket.destroyed) return;
  // libuv refuses to reset a socket it already shut down (EINVAL) and then never closes it: no 'close'.
  if (socket.writableEnded || socket.connecting) socket.destroy();
  else socket.resetAndDestroy();
}

function parseAddress(address: string): { host: string; port: number } {
  const match = /^(.+):(\d+)$/.exec(address.replace(/^\w+:\/\//, ""));
  const port = match ? Number(match[2]) : Number.NaN;
  if (!match || !Number.isInteger(port) || port <= 0 || port > 65_535) {
    throw new InvalidArgumentError(`tcp proxy: upstream "${address}" is not host:port`);
  }
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
}
