// Real grpc-js failures against peers that misbehave at the HTTP/2 level: which ones mean "not delivered"
// and which mean "sent, then lost" (outcome unknown). Guards the detail strings errors.ts relies on.
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { UnavailableError, type VigilError } from "../common/errors.ts";
import { TaskExecutorMethods } from "../generated/services.ts";
import { createClient } from "./client.ts";
import { ConnectionLostError } from "./errors.ts";

const open: Array<() => void> = [];

afterEach(() => {
  for (const close of open.splice(0).reverse()) close();
});

/** An HTTP/2 server that is not gRPC: each request stream goes to `onStream`. Counts streams it saw. */
async function rawPeer(
  onStream: (stream: http2.ServerHttp2Stream) => void,
): Promise<{ address: string; streams: () => number }> {
  const server = http2.createServer();
  let streams = 0;
  server.on("session", (session) => session.on("error", () => undefined));
  server.on("stream", (stream) => {
    streams++;
    stream.on("error", () => undefined);
    stream.resume();
    onStream(stream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => sessions.add(s));
  open.push(() => {
    for (const s of sessions) s.destroy();
    server.close();
  });
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, streams: () => streams };
}

async function callFails(address: string): Promise<VigilError> {
  const client = createClient(TaskExecutorMethods, address, { timeoutMs: 5_000 });
  open.push(() => client.close());
  return client.cancelTask({ epoch: 1n, executionId: "x" }).then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => e as VigilError,
  );
}

describe("transport failures: not delivered vs outcome unknown", () => {
  it.each([
    ["resets the stream (CANCEL)", http2.constants.NGHTTP2_CANCEL],
    ["resets the stream (INTERNAL_ERROR)", http2.constants.NGHTTP2_INTERNAL_ERROR],
    ["ends the stream without a gRPC status", http2.constants.NGHTTP2_NO_ERROR],
  ])("a peer that received the request and %s: outcome unknown", async (_what, code) => {
    const peer = await rawPeer((stream) => stream.close(code));
    const error = await callFails(peer.address);
    expect(peer.streams()).toBeGreaterThan(0);
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect((error as ConnectionLostError).outcomeUnknown).toBe(true);
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.message).toContain("outcome unknown");
    expect(error.message).toContain(peer.address);
  });

  it("a peer that drops the whole connection mid-call: outcome unknown", async () => {
    const peer = await rawPeer((stream) => stream.session?.destroy());
    const error = await callFails(peer.address);
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect(error.message).toMatch(
      /connection was lost during the call \(Connection dropped\); outcome unknown/,
    );
  });

  it("a peer that refuses the stream (never processed, RFC 9113 §8.7): not delivered", async () => {
    const peer = await rawPeer((stream) => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM));
    const error = await callFails(peer.address);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error).not.toBeInstanceOf(ConnectionLostError);
    expect(error.message).toContain("not delivered (Stream refused by server)");
  });

  it("a refused connection and an unresolvable host: not delivered", async () => {
    const peer = await rawPeer(() => undefined);
    const down = peer.address;
    for (const close of open.splice(0)) close();
    const refused = await callFails(down);
    expect(refused).not.toBeInstanceOf(ConnectionLostError);
    expect(refused.message).toMatch(/not delivered \(No connection established\. Last error: .*ECONNREFUSED/);
    const unresolvable = await callFails("no-such-host.invalid:6124");
    expect(unresolvable).toBeInstanceOf(UnavailableError);
    expect(unresolvable).not.toBeInstanceOf(ConnectionLostError);
    expect(unresolvable.message).toContain("not delivered (Name resolution failed");
  });
});
