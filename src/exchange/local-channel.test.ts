import { describe, expect, it } from "vitest";
import { InvalidArgumentError, LifecycleError, UnavailableError } from "../common/errors.ts";
import { waitUntil } from "../ha/testing.ts";
import type { InputChannel, StreamElement } from "../runtime/streaming/elements.ts";
import { createLocalChannel } from "./local-channel.ts";

const never = new AbortController().signal;

function barrier(id: bigint): StreamElement {
  return { kind: "barrier", checkpointId: id, timestampMs: 1_000, savepoint: false };
}

function records(from: number, count: number): StreamElement {
  return { kind: "records", records: Array.from({ length: count }, (_, i) => from + i) };
}

/** Reads until "end"; returns the records in order and the other elements in order. */
async function drain(input: InputChannel): Promise<{ records: unknown[]; control: StreamElement[] }> {
  const out: unknown[] = [];
  const control: StreamElement[] = [];
  for (;;) {
    const e = await input.next(never);
    if (e.kind === "records") out.push(...e.records);
    else control.push(e);
    if (e.kind === "end") return { records: out, control };
  }
}

describe("local channel", () => {
  it("preserves order across batches, barriers and end", async () => {
    const { output, input } = createLocalChannel({ creditBuffers: 2, bufferRecords: 7, flushMs: 5 });
    const produced = (async () => {
      let next = 0;
      for (let round = 1; round <= 20; round++) {
        await output.send(records(next, round), never);
        next += round;
        if (round % 5 === 0) await output.send(barrier(BigInt(round / 5)), never);
      }
      await output.send({ kind: "end" }, never);
      await output.close();
      return next;
    })();
    const seen: StreamElement[] = [];
    const all: unknown[] = [];
    for (;;) {
      const e = await input.next(never);
      seen.push(e);
      if (e.kind === "records") {
        expect(e.records.length).toBeLessThanOrEqual(7);
        all.push(...e.records);
      }
      if (e.kind === "end") break;
    }
    const total = await produced;
    expect(all).toEqual(Array.from({ length: total }, (_, i) => i));
    // Each barrier sits after exactly the records sent before it.
    const recordsBefore = (id: bigint): number => {
      let n = 0;
      for (const e of seen) {
        if (e.kind === "barrier" && e.checkpointId === id) return n;
        if (e.kind === "records") n += e.records.length;
      }
      return -1;
    };
    expect([recordsBefore(1n), recordsBefore(2n), recordsBefore(3n), recordsBefore(4n)]).toEqual([
      15, 55, 120, 210,
    ]);
    expect(seen.at(-1)).toEqual({ kind: "end" });
    await expect(input.next(never)).rejects.toBeInstanceOf(LifecycleError);
  });

  it("flushes a barrier at once, but holds a partial batch of records until flushMs", async () => {
    const { output, input } = createLocalChannel({ creditBuffers: 4, bufferRecords: 100, flushMs: 60_000 });
    await output.send(records(0, 3), never);
    const early = new AbortController();
    const waiting = input.next(early.signal);
    early.abort(new Error("nothing arrived"));
    await expect(waiting).rejects.toThrow("nothing arrived");
    await output.send(barrier(9n), never);
    expect(await input.next(never)).toEqual(records(0, 3));
    expect(await input.next(never)).toEqual(barrier(9n));

    const quick = createLocalChannel({ creditBuffers: 4, bufferRecords: 100, flushMs: 5 });
    await quick.output.send(records(0, 3), never);
    expect(await quick.input.next(never)).toEqual(records(0, 3)); // arrives by the flush timer alone
    await quick.output.close();
    await output.close();
  });

  it("flushes a partial batch whose flushMs passed without credit as soon as credit returns", async () => {
    const { output, input } = createLocalChannel({ creditBuffers: 1, bufferRecords: 10, flushMs: 1 });
    await output.send(records(0, 10), never); // sealed at once: the only credit is taken
    await output.send(records(10, 3), never); // partial; its flush time passes with no room
    await waitUntil(() => output.batchedRecords === 3, 1_000, "the partial batch is held");
    await new Promise((r) => setTimeout(r, 10));
    expect(output.batchedRecords).toBe(3);
    expect(await input.next(never)).toEqual(records(0, 10)); // returns the credit…
    expect(output.batchedRecords).toBe(0); // …and the overdue batch is sealed right then
    expect(await input.next(never)).toEqual(records(10, 3));
    input.close();
  });

  it("keeps a slow consumer's producer waiting, never more than creditBuffers buffers in flight", async () => {
    const credit = 3;
    const { output, input } = createLocalChannel({ creditBuffers: credit, bufferRecords: 10, flushMs: 1 });
    let sent = 0;
    let maxInFlight = 0;
    const producer = (async () => {
      for (let i = 0; i < 50; i++) {
        await output.send(records(i * 10, 10), never);
        sent++;
        maxInFlight = Math.max(maxInFlight, input.bufferedBuffers);
      }
      await output.send({ kind: "end" }, never);
    })();
    // Nobody reads: the producer fills the credit (plus one full open buffer) and then blocks.
    await waitUntil(() => sent === credit + 1, 1_000, "the producer filled its credit");
    await new Promise((r) => setTimeout(r, 30)); // negative check: it stays blocked
    expect(sent).toBe(credit + 1);
    expect(input.bufferedBuffers).toBe(credit);
    expect(output.batchedRecords).toBe(10);

    const received: unknown[] = [];
    for (;;) {
      const e = await input.next(never);
      maxInFlight = Math.max(maxInFlight, input.bufferedBuffers);
      expect(input.bufferedBuffers).toBeLessThanOrEqual(credit);
      if (e.kind === "records") received.push(...e.records);
      if (e.kind === "end") break;
      await new Promise((r) => setImmediate(r)); // a slow consumer
    }
    await producer;
    expect(received).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(maxInFlight).toBeLessThanOrEqual(credit);
  });

  it("rejects a waiting send with the signal's reason, and a waiting next()", async () => {
    const { output, input } = createLocalChannel({ creditBuffers: 1, bufferRecords: 1, flushMs: 0 });
    await output.send(records(0, 1), never); // takes the only credit
    await output.send(records(1, 1), never); // fills the open buffer
    const cancel = new AbortController();
    const blocked = output.send(records(2, 1), cancel.signal);
    cancel.abort(new Error("task cancelled"));
    await expect(blocked).rejects.toThrow("task cancelled");

    const other = createLocalChannel({ creditBuffers: 1, bufferRecords: 1, flushMs: 0 });
    const stop = new AbortController();
    const waiting = other.input.next(stop.signal);
    stop.abort(new Error("consumer cancelled"));
    await expect(waiting).rejects.toThrow("consumer cancelled");
    input.close();
    other.input.close();
  });

  it("rejects a next() that waits when the channel is closed, as the remote channel does", async () => {
    const { input } = createLocalChannel({ creditBuffers: 1, bufferRecords: 1, flushMs: 0 });
    const waiting = input.next(never);
    input.close();
    await expect(waiting).rejects.toBeInstanceOf(LifecycleError);
  });

  it("fails the producer with UnavailableError when the consumer goes away", async () => {
    const { output, input } = createLocalChannel({
      creditBuffers: 1,
      bufferRecords: 1,
      flushMs: 0,
      name: "map→sink 0",
    });
    await output.send(records(0, 1), never);
    await output.send(records(1, 1), never);
    const blocked = output.send(records(2, 1), never);
    input.close();
    const error = await blocked.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as Error).message).toContain("map→sink 0: the consumer released the channel");
    await expect(output.send(records(3, 1), never)).rejects.toBeInstanceOf(UnavailableError);
  });

  it("fails the consumer with UnavailableError when the producer goes away before end", async () => {
    const { output, input } = createLocalChannel({ creditBuffers: 2, bufferRecords: 5, flushMs: 1_000 });
    await output.send(records(0, 2), never);
    await output.close(); // flushes what was batched
    expect(await input.next(never)).toEqual(records(0, 2));
    const error = await input.next(never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as Error).message).toContain("the producer released the channel before its end");
  });

  it("refuses misuse: bad options, overlapping sends, sends after end", async () => {
    expect(() => createLocalChannel({ creditBuffers: 0, bufferRecords: 1, flushMs: 0 })).toThrow(
      InvalidArgumentError,
    );
    expect(() => createLocalChannel({ creditBuffers: 1, bufferRecords: 1.5, flushMs: 0 })).toThrow(
      /bufferRecords/,
    );
    const { output, input } = createLocalChannel({ creditBuffers: 1, bufferRecords: 1, flushMs: 0 });
    await output.send(records(0, 1), never);
    await output.send(records(1, 1), never);
    const first = output.send(records(2, 1), never);
    await expect(output.send(records(3, 1), never)).rejects.toBeInstanceOf(LifecycleError);
    expect(await drainCount(input, 3)).toEqual([0, 1, 2]);
    await first;
    await output.send({ kind: "end" }, never);
    await expect(output.send(records(9, 1), never)).rejects.toThrow(/after "end"/);
  });

  it("moves many records (throughput sanity, not a timed assertion)", async () => {
    const { output, input } = createLocalChannel({ creditBuffers: 4, bufferRecords: 512, flushMs: 5 });
    const total = 200_000;
    const started = performance.now();
    const producer = (async () => {
      for (let i = 0; i < total; i += 100) await output.send(records(i, 100), never);
      await output.send({ kind: "end" }, never);
    })();
    const { records: got } = await drain(input);
    await producer;
    expect(got.length).toBe(total);
    expect(got[total - 1]).toBe(total - 1);
    const ms = performance.now() - started;
    console.log(
      `local channel: ${total} records in ${ms.toFixed(0)} ms (${((total / ms) * 1000).toFixed(0)}/s)`,
    );
  });
});

async function drainCount(input: InputChannel, count: number): Promise<unknown[]> {
  const out: unknown[] = [];
  while (out.length < count) {
    const e = await input.next(never);
    if (e.kind === "records") out.push(...e.records);
  }
  return out;
}
