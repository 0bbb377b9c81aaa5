// Test helpers for the exchange's unit tests (no test framework imports here).
import type { VigilError } from "../common/errors.ts";
import { silentLogger } from "../common/logger.ts";
import { RpcServer } from "../rpc/server.ts";
import type { InputChannel, OutputChannel, StreamElement } from "../runtime/streaming/elements.ts";
import { ExchangeService, type ExchangeServiceOptions } from "./exchange-service.ts";
import { dataExchangeService } from "./wire.ts";

export const never = new AbortController().signal;

/** An exchange service with the tests' small buffers (4 × 16 records, 2 ms flush, 2 s partition wait). */
export function testExchangeService(options: Partial<ExchangeServiceOptions> = {}): ExchangeService {
  return new ExchangeService({
    logger: silentLogger,
    subpartitionBuffers: 4,
    bufferRecords: 16,
    flushMs: 2,
    partitionWaitMs: 2_000,
    ...options,
  });
}

/** A service served as a TaskManager serves it: on an RpcServer, closed (ending its streams) first. */
export async function startExchange(options: Partial<ExchangeServiceOptions> = {}): Promise<{
  readonly service: ExchangeService;
  readonly address: string;
  shutdown(graceMs: number): Promise<void>;
}> {
  const service = testExchangeService(options);
  const rpc = new RpcServer({ host: "127.0.0.1", port: 0, logger: silentLogger });
  rpc.addGrpcService(dataExchangeService, service.implementation);
  const address = await rpc.start();
  return {
    service,
    address,
    shutdown: async (graceMs) => {
      service.close();
      await rpc.shutdown(graceMs);
    },
  };
}

export function records(from: number, count: number): StreamElement {
  return { kind: "records", records: Array.from({ length: count }, (_, i) => from + i) };
}

/** Sends `count` records in batches of `batch`, with barrier n after the records of batch 10·n. */
export async function produce(output: OutputChannel, count: number, batch: number): Promise<void> {
  let batches = 0;
  for (let i = 0; i < count; i += batch) {
    await output.send(records(i, Math.min(batch, count - i)), never);
    if (++batches % 10 === 0) {
      const checkpointId = BigInt(batches / 10);
      await output.send({ kind: "barrier", checkpointId, timestampMs: i, savepoint: false }, never);
    }
  }
  await output.send({ kind: "end" }, never);
  await output.close();
}

/** Reads to "end": the records, and for each barrier how many records came before it. */
export async function readAll(
  input: InputChannel,
): Promise<{ records: unknown[]; barriers: [bigint, number][] }> {
  const out: unknown[] = [];
  const barriers: [bigint, number][] = [];
  for (;;) {
    const e = await input.next(never);
    if (e.kind === "records") out.push(...e.records);
    else if (e.kind === "barrier") barriers.push([e.checkpointId, out.length]);
    else return { records: out, barriers };
  }
}

/** The rejection of `promise`; throws when it resolves. */
export async function failureOf(promise: Promise<unknown>): Promise<VigilError> {
  const result = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (result === undefined) throw new Error("expected a rejection");
  return result as VigilError;
}
