import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { waitUntil } from "../ha/testing.ts";
import { TcpProxy, TcpProxyOverflowError } from "./tcp-proxy.ts";

/** An upstream that records what each connection sent and lets the test answer on any of them. */
class Upstream {
  readonly sockets: Socket[] = [];
  readonly received: string[] = [];
  readonly ended: boolean[] = [];
  readonly closed: boolean[] = [];
  private constructor(
    readonly server: Server,
    readonly port: number,
  ) {}

  static async start(options: { echo: boolean; halfClose?: boolean }): Promise<Upstream> {
    const server = createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no address");
    const upstream = new Upstream(server, address.port);
    server.on("connection", (socket) => {
      const i = upstream.sockets.push(socket) - 1;
      upstream.received[i] = "";
      upstream.ended[i] = false;
      upstream.closed[i] = false;
      socket.setEncoding("utf8");
      socket.on("error", () => {});
      socket.on("data", (text: string) => {
        upstream.received[i] += text;
        if (options.echo) socket.write(text.toUpperCase());
      });
      socket.on("end", () => {
        upstream.ended[i] = true;
        if (!options.halfClose) socket.end();
      });
      socket.on("close", () => {
        upstream.closed[i] = true;
      });
    });
    return upstream;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A client connection that records what it received and how it ended. */
interface Client {
  readonly socket: Socket;
  text: string;
  ended: boolean;
  closed: boolean;
  error: string | undefined;
}

async function dial(proxy: TcpProxy): Promise<Client> {
  const socket = connect({ host: "127.0.0.1", port: proxy.port, allowHalfOpen: true });
  const client: Client = { socket, text: "", ended: false, closed: false, error: undefined };
  socket.setEncoding("utf8");
  socket.on("data", (text: string) => {
    client.text += text;
  });
  socket.on("end", () => {
    client.ended = true;
  });
  socket.on("error", (e: NodeJS.ErrnoException) => {
    client.error = e.code ?? e.message;
  });
  socket.on("close", () => {
    client.closed = true;
  });
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return client;
}

describe("TcpProxy", () => {
  const owned: Array<{ close(): Promise<void> }> = [];
  const clients: Socket[] = [];
  afterEach(async () => {
    for (const s of clients.splice(0)) s.destroy();
    for (const o of owned.splice(0).reverse()) await o.close();
  });

  async function setUp(
    options: { echo?: boolean; halfClose?: boolean; maxHeldBytes?: number } = {},
  ): Promise<{ upstream: Upstream; proxy: TcpProxy }> {
    const upstream = await Upstream.start({
      echo: options.echo ?? true,
      halfClose: options.halfClose ?? false,
    });
    owned.push(upstream);
    const proxy = await TcpProxy.start({
      upstream: upstream.address,
      name: "test proxy",
      ...(options.maxHeldBytes !== undefined && { maxHeldBytes: options.maxHeldBytes }),
    });
    owned.push(proxy);
    return { upstream, proxy };
  }

  async function client(proxy: TcpProxy): Promise<Client> {
    const c = await dial(proxy);
    clients.push(c.socket);
    return c;
  }

  it("forwards both ways and counts bytes and connections", async () => {
    const { upstream, proxy } = await setUp();
    expect(proxy.address).toBe(`127.0.0.1:${proxy.port}`);
    const a = await client(proxy);
    const b = await client(proxy);
    a.socket.write("hello");
    b.socket.write("abc");
    await waitUntil(() => a.text === "HELLO" && b.text === "ABC", 5_000, "echoes");
    expect(upstream.received.sort()).toEqual(["abc", "hello"]);
    expect(proxy.stats()).toMatchObject({
      mode: "forward",
      connections: 2,
      open: 2,
      bytesToUpstream: 8,
      bytesToClient: 8,
      bytesDropped: 0,
      heldBytes: 0,
    });
  });

  it("hold buffers both directions and delivers them in order on forward", async () => {
    const { upstream, proxy } = await setUp();
    const a = await client(proxy);
    a.socket.write("one");
    await waitUntil(() => a.text === "ONE", 5_000, "first echo");

    proxy.setMode("hold");
    a.socket.write("two");
    upstream.sockets[0]!.write("push");
    await waitUntil(() => proxy.stats().heldBytes === 7, 5_000, "7 held bytes");
    expect(upstream.received[0]).toBe("one");
    expect(a.text).toBe("ONE");

    proxy.setMode("forward");
    await waitUntil(() => a.text === "ONEpushTWO", 5_000, "held bytes delivered");
    expect(upstream.received[0]).toBe("onetwo");
    expect(proxy.stats().heldBytes).toBe(0);
  });

  it("connects a connection accepted during hold to the upstream only on forward", async () => {
    const { upstream, proxy } = await setUp();
    proxy.setMode("hold");
    const a = await client(proxy);
    a.socket.write("early");
    await waitUntil(() => proxy.stats().heldBytes === 5, 5_000, "5 held bytes");
    expect(upstream.sockets).toHaveLength(0);

    proxy.setMode("forward");
    await waitUntil(() => a.text === "EARLY", 5_000, "echo after forward");
    expect(upstream.sockets).toHaveLength(1);
  });

  it("holds a client's close until forward, after its bytes", async () => {
    const { upstream, proxy } = await setUp({ echo: false });
    const a = await client(proxy);
    a.socket.write("x");
    await waitUntil(() => upstream.received[0] === "x", 5_000, "first byte");
    proxy.setMode("hold");
    a.socket.end("yz");
    await waitUntil(() => proxy.stats().heldBytes === 2, 5_000, "2 held bytes");
    expect(upstream.ended[0]).toBe(false);

    proxy.setMode("forward");
    await waitUntil(() => upstream.ended[0] === true, 5_000, "end delivered");
    expect(upstream.received[0]).toBe("xyz");
    await waitUntil(() => a.closed && proxy.stats().open === 0, 5_000, "connection closed");
  });

  it("drop-replies forwards requests and discards replies", async () => {
    const { upstream, proxy } = await setUp();
    const a = await client(proxy);
    proxy.setMode("drop-replies");
    a.socket.write("lost");
    await waitUntil(() => proxy.stats().bytesDropped === 4, 5_000, "4 dropped bytes");
    expect(upstream.received[0]).toBe("lost");
    expect(a.text).toBe("");

    proxy.setMode("forward");
    a.socket.write("seen");
    await waitUntil(() => a.text === "SEEN", 5_000, "echo after forward");
    expect(proxy.stats()).toMatchObject({ bytesToUpstream: 8, bytesToClient: 4, bytesDropped: 4 });
  });

  it("drops replies held during hold when released into drop-replies", async () => {
    const { upstream, proxy } = await setUp({ echo: false });
    const a = await client(proxy);
    a.socket.write("q");
    await waitUntil(() => upstream.received[0] === "q", 5_000, "request");
    proxy.setMode("hold");
    upstream.sockets[0]!.write("reply");
    await waitUntil(() => proxy.stats().heldBytes === 5, 5_000, "held reply");
    proxy.setMode("drop-replies");
    expect(proxy.stats()).toMatchObject({ heldBytes: 0, bytesDropped: 5 });
    expect(a.text).toBe("");
  });

  it("reset destroys every connection; new ones still work", async () => {
    const { upstream, proxy } = await setUp();
    const a = await client(proxy);
    const b = await client(proxy);
    a.socket.write("1");
    b.socket.write("2");
    await waitUntil(() => a.text === "1" && b.text === "2", 5_000, "echoes");

    proxy.reset();
    await waitUntil(() => a.closed && b.closed, 5_000, "clients closed");
    await waitUntil(() => upstream.closed.every(Boolean), 5_000, "upstream sockets closed");
    expect(a.error).toBe("ECONNRESET");
    expect(proxy.stats()).toMatchObject({ resets: 2, open: 0 });

    const c = await client(proxy);
    c.socket.write("again");
    await waitUntil(() => c.text === "AGAIN", 5_000, "echo on a new connection");
  });

  it("resets a held connection that buffers past the bound, with a clear error", async () => {
    const { upstream, proxy } = await setUp({ maxHeldBytes: 10 });
    const a = await client(proxy);
    const b = await client(proxy);
    proxy.setMode("hold");
    a.socket.write("0123456789ab");
    b.socket.write("small");
    await waitUntil(() => a.closed, 5_000, "overflowing client reset");
    expect(proxy.stats()).toMatchObject({ overflows: 1, open: 1, heldBytes: 5 });
    const [error] = proxy.errors;
    expect(error).toBeInstanceOf(TcpProxyOverflowError);
    expect(error?.message).toMatch(/test proxy: connection #1 buffered more than 10 bytes while held/);

    proxy.setMode("forward");
    await waitUntil(() => b.text === "SMALL", 5_000, "the other connection survives");
    expect(upstream.received).toContain("small");
  });

  it("close is idempotent and leaves no socket or listener behind", async () => {
    const { upstream, proxy } = await setUp();
    const a = await client(proxy);
    a.socket.write("hi");
    await waitUntil(() => a.text === "HI", 5_000, "echo");
    proxy.setMode("hold");

    await Promise.all([proxy.close(), proxy.close()]);
    await proxy.close();
    await waitUntil(() => a.closed, 5_000, "client closed");
    await waitUntil(() => upstream.closed.every(Boolean), 5_000, "upstream side closed");
    expect(proxy.stats().open).toBe(0);
    const refused = await new Promise<string>((resolve) => {
      const s = connect({ host: "127.0.0.1", port: proxy.port });
      s.on("connect", () => {
        s.destroy();
        resolve("connected");
      });
      s.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
    });
    expect(refused).toBe("ECONNREFUSED");
  });

  it("closes connections that one side half-closed", async () => {
    const { upstream, proxy } = await setUp({ halfClose: true });
    const a = await client(proxy);
    a.socket.end("bye");
    await waitUntil(() => upstream.ended[0] === true, 5_000, "end delivered");
    // The upstream keeps its side open and may still answer.
    upstream.sockets[0]!.write("late");
    await waitUntil(() => a.text === "BYElate", 5_000, "answer after the client's end");

    // libuv cannot reset a socket it already shut down; close() must still close it and resolve.
    await proxy.close();
    expect(proxy.stats().open).toBe(0);
    await waitUntil(() => a.closed, 5_000, "client closed");
    // The upstream had its FIN already; it learns the rest when it writes (the first write draws the RST).
    const writeUntilClosed = (): boolean => {
      if (!upstream.closed[0]) upstream.sockets[0]!.write("more");
      return upstream.closed[0] === true;
    };
    await waitUntil(writeUntilClosed, 5_000, "upstream side closed");
  });

  it("reset right after releasing a held end still closes everything", async () => {
    const { upstream, proxy } = await setUp({ echo: false, halfClose: true });
    const a = await client(proxy);
    a.socket.write("x");
    await waitUntil(() => upstream.received[0] === "x", 5_000, "first byte");
    proxy.setMode("hold");
    a.socket.end("y");
    await waitUntil(() => proxy.stats().heldBytes === 1 && a.socket.writableFinished, 5_000, "held end");
    // Releasing the end shuts the upstream socket down; a reset in the same tick must not leak it.
    proxy.setMode("forward");
    proxy.reset();
    await waitUntil(() => proxy.stats().open === 0, 5_000, "connection closed");
    await proxy.close();
  });

  it("rejects an upstream that is not host:port", async () => {
    await expect(TcpProxy.start({ upstream: "localhost" })).rejects.toThrow(/not host:port/);
  });
});
