// Remote channels over loopback gRPC: a real DataExchange server on port 0, real consumer streams.
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { InvalidArgumentError, UnavailableError } from "../common/errors.ts";
import { silentLogger } from "../common/logger.ts";
import { waitUntil } from "../ha/testing.ts";
import { ExchangeService, type ExchangeServiceOptions } from "./exchange-service.ts";
import { connectRemoteChannel, ExchangeClients, type RemoteChannelOptions } from "./remote-channel.ts";
import { failureOf, never, produce, readAll, records, startExchange } from "./testing.ts";
import { dataExchangeService } from "./wire.ts";

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startProducer(options: Partial<ExchangeServiceOptions> = {}) {
  const { service, address, shutdown } = await startExchange(options);
  const server = { shutdown };
  cleanups.push(() => server.shutdown(100));
  return { service, server, address };
}

function consumer(address: string, overrides: Partial<RemoteChannelOptions> = {}) {
  const channel = connectRemoteChannel({
    address,
    producerExecutionId: "exec-1",
    downstreamVertex: "sink",
    subpartition: 0,
    epoch: 3n,
    creditBuffers: 2,
    ...overrides,
  });
  cleanups.push(() => channel.close());
  return channel;
}

describe("remote channel", () => {
  it("delivers every subpartition in order with barriers and end, then forgets the partition", async () => {
    const { service, address } = await startProducer();
    const partition = service.registerPartition("exec-1", "sink", 2, 3n);
    const clients = new ExchangeClients();
    cleanups.push(() => clients.close());
    const inputs = [0, 1].map((subpartition) => consumer(address, { subpartition, clients }));
    const exotic = {
      kind: "records",
      records: [new Map([["k", 1n << 70n]]), new Date(5), undefined],
    } as const;
    const [a, b] = partition.subpartitions;
    if (a === undefined || b === undefined) throw new Error("two subpartitions expected");
    const producing = Promise.all([
      (async () => {
        await a.send(exotic, never);
        await produce(a, 3_000, 7);
      })(),
      produce(b, 500, 50),
    ]);
    const [first, second] = await Promise.all(inputs.map(readAll));
    await producing;
    expect(first?.records.slice(0, 3)).toEqual(exotic.records);
    expect(first?.records.slice(3)).toEqual(Array.from({ length: 3_000 }, (_, i) => i));
    // 3000 records in batches of 7: barrier n after 70·n records (plus the 3 exotic ones).
    expect(first?.barriers).toEqual(Array.from({ length: 42 }, (_, n) => [BigInt(n + 1), 3 + 70 * (n + 1)]));
    expect(second?.records).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(second?.barriers).toEqual([[1n, 500]]);
    await waitUntil(() => service.partition("exec-1", "sink") === undefined, 1_000, "partition forgotten");
    await waitUntil(() => service.activeStreams === 0, 1_000, "streams closed");
  });

  it("waits for a partition registered after the request, and fails NOT_FOUND after the wait", async () => {
    const { service, address } = await startProducer({ partitionWaitMs: 150 });
    const early = consumer(address);
    const reading = readAll(early);
    await waitUntil(() => service.waitingRequests === 1, 1_000, "the request waits for its partition");
    const partition = service.registerPartition("exec-1", "sink", 1, 3n);
    const [output] = partition.subpartitions;
    await produce(output!, 10, 10);
    expect((await reading).records).toHaveLength(10);

    const lost = consumer(address, { producerExecutionId: "exec-unknown" });
    const error = await failureOf(lost.next(never));
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toContain("producer exec-unknown for sink is not registered at this TaskManager");
  });

  it("refuses another epoch, a subpartition out of range and a second reader", async () => {
    const { service, address } = await startProducer();
    const partition = service.registerPartition("exec-1", "sink", 2, 3n);
    const stale = await failureOf(consumer(address, { epoch: 2n }).next(never));
    expect(stale.code).toBe("STALE_EPOCH");
    expect(stale.message).toContain("deployed by leader epoch 3, the consumer by epoch 2");
    const range = await failureOf(consumer(address, { subpartition: 5 }).next(never));
    expect(range).toBeInstanceOf(InvalidArgumentError);
    expect(range.message).toContain("has subpartitions 0..1; subpartition 5 was requested");
    const first = consumer(address, { subpartition: 1 });
    await partition.subpartitions[1]!.send(
      { kind: "barrier", checkpointId: 1n, timestampMs: 0, savepoint: false },
      never,
    );
    expect((await first.next(never)).kind).toBe("barrier"); // the first reader is attached
    const second = await failureOf(consumer(address, { subpartition: 1 }).next(never));
    expect(second.code).toBe("ALREADY_EXISTS");
  });

  it("holds buffers for a consumer that has not connected, then applies its credit", async () => {
    const { service, address } = await startProducer({
      subpartitionBuffers: 2,
      bufferRecords: 10,
      flushMs: 1,
    });
    const partition = service.registerPartition("exec-1", "sink", 1, 3n);
    const [output] = partition.subpartitions;
    let sent = 0;
    const producing = (async () => {
      for (let i = 0; i < 100; i++) {
        await output!.send(records(i * 10, 10), never);
        sent++;
      }
      await output!.send({ kind: "end" }, never);
    })();
    // No consumer yet: 2 sealed buffers plus one full open buffer, then the producer waits.
    await waitUntil(() => sent === 3, 1_000, "the producer filled its subpartition");
    await new Promise((r) => setTimeout(r, 30)); // negative check: it stays blocked
    expect(sent).toBe(3);
    expect(partition.bufferCounts()).toEqual([2]);

    const input = consumer(address, { creditBuffers: 2 });
    // The consumer grants 2 buffers and reads none: 2 on its side, 2 queued, 1 open.
    await waitUntil(() => input.bufferedBuffers === 2 && sent === 5, 1_000, "credit used");
    await new Promise((r) => setTimeout(r, 30));
    expect(sent).toBe(5);
    expect(input.bufferedBuffers).toBe(2);
    expect(partition.bufferCounts()).toEqual([2]);

    const got: unknown[] = [];
    for (;;) {
      const e = await input.next(never);
      expect(input.bufferedBuffers).toBeLessThanOrEqual(2);
      expect(partition.bufferCounts()[0] ?? 0).toBeLessThanOrEqual(2);
      if (e.kind === "records") got.push(...e.records);
      if (e.kind === "end") break;
      await new Promise((r) => setImmediate(r));
    }
    await producing;
    expect(got).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
  });

  it("fails the consumer with UnavailableError naming the producer when the partition is released", async () => {
    const { service, address } = await startProducer();
    const partition = service.registerPartition("exec-1", "sink", 1, 3n);
    const input = consumer(address);
    await partition.subpartitions[0]!.send(
      { kind: "barrier", checkpointId: 1n, timestampMs: 0, savepoint: false },
      never,
    );
    expect((await input.next(never)).kind).toBe("barrier");
    service.releasePartitionsOf("exec-1", "the producer task failed");
    const error = await failureOf(input.next(never));
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.message).toContain("producer exec-1 at");
    expect(error.message).toContain("the producer task failed");
  });

  it("fails the consumer with UnavailableError when the producer's TaskManager dies", async () => {
    const service = new ExchangeService({
      logger: silentLogger,
      subpartitionBuffers: 2,
      bufferRecords: 4,
      flushMs: 1,
    });
    const server = new Server();
    server.addService(dataExchangeService, service.implementation);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    service.registerPartition("exec-1", "sink", 1, 3n);
    const input = consumer(`127.0.0.1:${port}`);
    const waiting = input.next(never);
    await waitUntil(() => service.activeStreams === 1, 1_000, "the consumer attached");
    server.forceShutdown(); // no status, no goodbye: the connection is simply gone
    const error = await failureOf(waiting);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.message).toContain(`data exchange: producer exec-1 at 127.0.0.1:${port}`);
    service.close();
  });

  it("fails the producer's blocked send when the consumer goes away (close or its signal)", async () => {
    const { service, address } = await startProducer({
      subpartitionBuffers: 1,
      bufferRecords: 1,
      flushMs: 0,
    });
    const partition = service.registerPartition("exec-1", "sink", 2, 3n);
    const stop = new AbortController();
    const inputs = [
      consumer(address, { creditBuffers: 1 }),
      consumer(address, { subpartition: 1, creditBuffers: 1, signal: stop.signal }),
    ];
    const blocked = partition.subpartitions.map(async (output) => {
      for (let i = 0; ; i++) await output.send(records(i, 1), never);
    });
    await waitUntil(() => inputs.every((c) => c.bufferedBuffers === 1), 1_000, "credit used");
    inputs[0]!.close();
    stop.abort(new Error("consumer task cancelled"));
    for (const send of blocked) {
      const error = await failureOf(send);
      expect(error).toBeInstanceOf(UnavailableError);
      expect(error.message).toMatch(/subpartition \d: the consumer at .* is gone/);
    }
  });

  it("rejects a waiting next() with its signal's reason; no producer at the address is UnavailableError", async () => {
    const { service, address } = await startProducer();
    service.registerPartition("exec-1", "sink", 1, 3n);
    const input = consumer(address);
    const stop = new AbortController();
    const waiting = input.next(stop.signal);
    stop.abort(new Error("task cancelled"));
    await expect(waiting).rejects.toThrow("task cancelled");

    const nobody = await failureOf(consumer("127.0.0.1:1").next(never));
    expect(nobody).toBeInstanceOf(UnavailableError);
    expect(nobody.message).toContain("data exchange: producer exec-1 at 127.0.0.1:1");
  });

  it("ends open streams with UnavailableError when the producer's server shuts down", async () => {
    const { service, server, address } = await startProducer();
    service.registerPartition("exec-1", "sink", 1, 3n);
    const input = consumer(address);
    await waitUntil(() => service.activeStreams === 1, 1_000, "the consumer attached");
    await server.shutdown(100);
    const error = await failureOf(input.next(never));
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.message).toContain("shutting down");
  });

  it("fails both sides when a record cannot cross the wire", async () => {
    const { service, address } = await startProducer({ bufferRecords: 1, flushMs: 0 });
    const [output] = service.registerPartition("exec-1", "sink", 1, 3n).subpartitions;
    const input = consumer(address);
    await output!.send({ kind: "records", records: [() => "not cloneable"] }, never);
    const error = await failureOf(input.next(never));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message).toContain("structured-clone values");
    await expect(output!.send(records(0, 1), never)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("moves many records (throughput sanity, not a timed assertion)", async () => {
    const { service, address } = await startProducer({
      subpartitionBuffers: 4,
      bufferRecords: 512,
      flushMs: 5,
    });
    const [output] = service.registerPartition("exec-1", "sink", 1, 3n).subpartitions;
    const input = consumer(address, { creditBuffers: 4 });
    const total = 200_000;
    const started = performance.now();
    const producing = produce(output!, total, 100);
    const { records: got } = await readAll(input);
    await producing;
    expect(got).toHaveLength(total);
    expect(got[total - 1]).toBe(total - 1);
    const ms = performance.now() - started;
    console.log(
      `remote channel: ${total} records in ${ms.toFixed(0)} ms (${((total / ms) * 1000).toFixed(0)}/s)`,
    );
  });
});
