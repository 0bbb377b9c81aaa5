// Consumers reading producers of their own TaskManager through local channels (no server is even started
// for most of these: a gRPC attempt would fail), and producers of another one through ReadPartition streams.
import { afterEach, describe, expect, it } from "vitest";
import { InvalidArgumentError, UnavailableError } from "../common/errors.ts";
import { waitUntil } from "../ha/testing.ts";
import type { InputChannel, StreamElement } from "../runtime/streaming/elements.ts";
import type { ExchangeServiceOptions } from "./exchange-service.ts";
import { type InputChannelRequest, openInputChannel } from "./input-channels.ts";
import { ExchangeClients } from "./remote-channel.ts";
import {
  failureOf,
  never,
  produce,
  readAll,
  records,
  startExchange,
  testExchangeService,
} from "./testing.ts";

const SELF = "tm-self.invalid:6121";
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function localExchange(options: Partial<ExchangeServiceOptions> = {}) {
  const service = testExchangeService(options);
  const clients = new ExchangeClients();
  cleanups.push(
    () => service.close(),
    () => clients.close(),
  );
  const open = (overrides: Partial<InputChannelRequest & { objectReuse: boolean }> = {}): InputChannel => {
    const { objectReuse, ...request } = overrides;
    const channel = openInputChannel(
      { exchange: service, clients, localAddress: () => SELF, ...(objectReuse ? { objectReuse } : {}) },
      {
        address: SELF,
        producerExecutionId: "exec-1",
        downstreamVertex: "sink",
        subpartition: 0,
        epoch: 3n,
        creditBuffers: 2,
        ...request,
      },
    );
    cleanups.push(() => channel.close());
    return channel;
  };
  return { service, clients, open };
}

function barrier(checkpointId: bigint): StreamElement {
  return { kind: "barrier", checkpointId, timestampMs: 0, savepoint: false };
}

describe("local channels of one ExchangeService", () => {
  it("deliver every subpartition in order with barriers and end, with no stream and no connection", async () => {
    const { service, clients, open } = localExchange();
    const partition = service.registerPartition("exec-1", "sink", 2, 3n);
    const inputs = [open(), open({ subpartition: 1 })];
    expect(service.activeLocalChannels).toBe(2);
    const [a, b] = partition.subpartitions;
    const producing = Promise.all([produce(a!, 3_000, 7), produce(b!, 500, 50)]);
    const [first, second] = await Promise.all(inputs.map(readAll));
    await producing;
    expect(first?.records).toEqual(Array.from({ length: 3_000 }, (_, i) => i));
    expect(first?.barriers).toEqual(Array.from({ length: 42 }, (_, n) => [BigInt(n + 1), 70 * (n + 1)]));
    expect(second?.records).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(second?.barriers).toEqual([[1n, 500]]);
    await expect(inputs[0]!.next(never)).rejects.toThrow(/after "end"/);
    // Both "end"s read: the partition is consumed and forgotten, as after its streams delivered them.
    expect(service.partition("exec-1", "sink")).toBeUndefined();
    expect(service.activeLocalChannels).toBe(0);
    expect(service.opened).toEqual({ streams: 0, localChannels: 2 });
    expect(clients.size).toBe(0);
  });

  it("count a producer as local when its partition is registered here, whatever address names it", async () => {
    const { service, clients, open } = localExchange();
    const [output] = service.registerPartition("exec-1", "sink", 1, 3n).subpartitions;
    const input = open({ address: "127.0.0.1:1" }); // nothing listens there
    const reading = readAll(input);
    await produce(output!, 100, 10);
    expect((await reading).records).toHaveLength(100);
    expect(clients.size).toBe(0);
  });

  it("copy records between subtasks, as the remote path does, unless object reuse is on", async () => {
    const { service, open } = localExchange({ bufferRecords: 2, flushMs: 0 });
    const [a, b] = service.registerPartition("exec-1", "sink", 2, 3n).subpartitions;
    const shared = { key: "k", count: 1, tags: ["x"] };
    const copying = open();
    const reusing = open({ subpartition: 1, objectReuse: true });
    // One record broadcast to both consumers, as a broadcast partitioner sends it.
    await a!.send({ kind: "records", records: [shared, 7] }, never);
    await b!.send({ kind: "records", records: [shared, 7] }, never);
    const copied = await copying.next(never);
    const reused = await reusing.next(never);
    if (copied.kind !== "records" || reused.kind !== "records") throw new Error("records expected");
    expect(copied.records).toEqual([shared, 7]);
    expect(copied.records[0]).not.toBe(shared);
    (copied.records[0] as typeof shared).tags.push("mutated by the consumer");
    expect(shared.tags).toEqual(["x"]);
    expect(reused.records[0]).toBe(shared);
  });

  it("fail both sides with the remote path's INVALID_ARGUMENT when a record cannot be copied", async () => {
    const { service, open } = localExchange({ bufferRecords: 1, flushMs: 0 });
    const [output] = service.registerPartition("exec-1", "sink", 1, 3n).subpartitions;
    const input = open();
    await output!.send({ kind: "records", records: [() => "not cloneable"] }, never);
    const error = await failureOf(input.next(never));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message).toContain("structured-clone values");
    await expect(output!.send(records(0, 1), never)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("wait for a partition registered later, fail NOT_FOUND after the wait, and UNAVAILABLE once released", async () => {
    const { service, open } = localExchange({ partitionWaitMs: 150 });
    const early = open();
    const reading = readAll(early);
    await waitUntil(() => service.waitingRequests === 1, 1_000, "the channel waits for its partition");
    const [output] = service.registerPartition("exec-1", "sink", 1, 3n).subpartitions;
    await produce(output!, 10, 10);
    expect((await reading).records).toHaveLength(10);

    const lost = await failureOf(open({ producerExecutionId: "exec-unknown" }).next(never));
    expect(lost.code).toBe("NOT_FOUND");
    expect(lost.message).toContain("producer exec-unknown for sink is not registered at this TaskManager");

    const waiting = open({ producerExecutionId: "exec-2" }).next(never);
    service.registerPartition("exec-2", "sink", 1, 3n);
    service.releasePartitionsOf("exec-2", "the producer task was cancelled");
    const released = await failureOf(waiting);
    expect(released).toBeInstanceOf(UnavailableError);
    expect(released.message).toContain("producer exec-2 for sink was released");
  });

  it("refuse another epoch, a subpartition out of range and a second reader", async () => {
    const { service, open } = localExchange();
    const partition = service.registerPartition("exec-1", "sink", 2, 3n);
    const stale = await failureOf(open({ epoch: 2n }).next(never));
    expect(stale.code).toBe("STALE_EPOCH");
    expect(stale.message).toContain("deployed by leader epoch 3, the consumer by epoch 2");
    const range = await failureOf(open({ subpartition: 5 }).next(never));
    expect(range).toBeInstanceOf(InvalidArgumentError);
    expect(range.message).toContain("has subpartitions 0..1; subpartition 5 was requested");
    const first = open({ subpartition: 1 });
    await partition.subpartitions[1]!.send(barrier(1n), never);
    expect((await first.next(never)).kind).toBe("barrier");
    const second = await failureOf(open({ subpartition: 1 }).next(never));
    expect(second.code).toBe("ALREADY_EXISTS");
  });

  it("hold the producer back while the consumer does not read: never more than the subpartition's buffers", async () => {
    const { service, open } = localExchange({ subpartitionBuffers: 2, bufferRecords: 10, flushMs: 1 });
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
    const input = open();
    // 2 sealed buffers plus one full open buffer, then the producer waits for the consumer.
    await waitUntil(() => sent === 3, 1_000, "the producer filled its subpartition");
    await new Promise((r) => setTimeout(r, 30)); // negative check: it stays blocked
    expect(sent).toBe(3);
    expect(partition.bufferCounts()).toEqual([2]);

    const got: unknown[] = [];
    for (;;) {
      const e = await input.next(never);
      expect(partition.bufferCounts()[0] ?? 0).toBeLessThanOrEqual(2);
      if (e.kind === "records") got.push(...e.records);
      if (e.kind === "end") break;
      await new Promise((r) => setImmediate(r));
    }
    await producing;
    expect(got).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
  });

  it("fail the consumer naming the producer when its partition is released (the producer failed or was cancelled)", async () => {
    const { service, open } = localExchange();
    const partition = service.registerPartition("exec-1", "sink", 1, 3n);
    const input = open();
    await partition.subpartitions[0]!.send(barrier(1n), never);
    expect((await input.next(never)).kind).toBe("barrier");
    const waiting = input.next(never);
    service.releasePartitionsOf("exec-1", "producer task exec-1 was cancelled");
    const error = await failureOf(waiting);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.message).toContain("producer exec-1 for sink was released");
    expect(error.message).toContain("producer task exec-1 was cancelled");
  });

  it("fail the producer's blocked send when the consumer goes away (close or its signal)", async () => {
    const { service, open } = localExchange({ subpartitionBuffers: 1, bufferRecords: 1, flushMs: 0 });
    const partition = service.registerPartition("exec-1", "sink", 2, 3n);
    const stop = new AbortController();
    const inputs = [open(), open({ subpartition: 1, signal: stop.signal })];
    const blocked = partition.subpartitions.map(async (output) => {
      for (let i = 0; ; i++) await output.send(records(i, 1), never);
    });
    await waitUntil(() => partition.bufferCounts().every((n) => n === 1), 1_000, "both subpartitions full");
    inputs[0]!.close();
    stop.abort(new Error("consumer task cancelled"));
    for (const send of blocked) {
      const error = await failureOf(send);
      expect(error).toBeInstanceOf(UnavailableError);
      expect(error.message).toMatch(/subpartition \d: the consumer released the channel/);
    }
    expect(service.activeLocalChannels).toBe(0);
  });

  it("stop waiting for an unregistered partition when the consumer is cancelled, and never attach to it", async () => {
    const { service, open } = localExchange();
    const stop = new AbortController();
    const input = open({ signal: stop.signal });
    const waiting = input.next(stop.signal);
    await waitUntil(() => service.waitingRequests === 1, 1_000, "the channel waits for its partition");
    stop.abort(new Error("consumer task cancelled"));
    await expect(waiting).rejects.toThrow("consumer task cancelled");
    expect(service.waitingRequests).toBe(0);
    expect(service.activeLocalChannels).toBe(0);
    // Its subpartition is still free for a consumer of a later attempt.
    service.registerPartition("exec-1", "sink", 1, 3n);
    const retry = open();
    await service.partition("exec-1", "sink")!.subpartitions[0]!.send(barrier(1n), never);
    expect((await retry.next(never)).kind).toBe("barrier");
  });

  it("fail waiting and attached channels when the TaskManager's exchange closes", async () => {
    const { service, open } = localExchange();
    service.registerPartition("exec-1", "sink", 1, 3n);
    const attached = open().next(never);
    const waiting = open({ producerExecutionId: "exec-2" }).next(never);
    await waitUntil(() => service.waitingRequests === 1, 1_000, "one waits for its partition");
    service.close();
    for (const error of [await failureOf(attached), await failureOf(waiting)]) {
      expect(error).toBeInstanceOf(UnavailableError);
      expect(error.message).toContain("shutting down");
    }
    const late = await failureOf(open({ producerExecutionId: "exec-3" }).next(never));
    expect(late.message).toContain("shutting down");
  });
});

describe("input channels between two ExchangeServices", () => {
  it("read a producer of another TaskManager over a ReadPartition stream", async () => {
    const producer = await startExchange();
    cleanups.push(() => producer.shutdown(100));
    const { service: consumerSide, clients, open } = localExchange();
    // The consumer's own TaskManager has a partition of the same name: only the address decides here.
    consumerSide.registerPartition("exec-local", "sink", 1, 3n);
    const partition = producer.service.registerPartition("exec-1", "sink", 1, 3n);
    const input = open({ address: producer.address });
    const reading = readAll(input);
    await produce(partition.subpartitions[0]!, 1_000, 10);
    const { records: got, barriers } = await reading;
    expect(got).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
    expect(barriers).toHaveLength(10);
    expect(producer.service.opened).toEqual({ streams: 1, localChannels: 0 });
    expect(consumerSide.opened).toEqual({ streams: 0, localChannels: 0 });
    expect(clients.size).toBe(1);
  });
});
