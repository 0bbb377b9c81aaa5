// Measures what a local channel's record copy costs (the numbers at the top of record-copy.ts come from here):
//   node --import tsx src/exchange/local-copy.measure.ts
// 1. One buffer of 512 records copied: by reference (object reuse), record-copy.ts, structuredClone of the
//    batch, and the remote path's codec (encode + decode) for comparison.
// 2. A whole channel, producer to consumer in one process: a local channel with object reuse, one copying,
//    and a ReadPartition stream over loopback gRPC; 200,000 {key,value,ts} records, median of 5 runs.
import { silentLogger } from "../common/logger.ts";
import { RpcServer } from "../rpc/server.ts";
import type { InputChannel, StreamElement, StreamRecord } from "../runtime/streaming/elements.ts";
import { decodeBuffer, encodeBuffer } from "./codec.ts";
import { ExchangeService } from "./exchange-service.ts";
import { workloads } from "./measure-workloads.ts";
import { copyRecords } from "./record-copy.ts";
import { connectRemoteChannel, ExchangeClients } from "./remote-channel.ts";
import { dataExchangeService } from "./wire.ts";

const RECORDS_PER_BUFFER = 512;
const RUN_MS = 500;
const never = new AbortController().signal;

const copies: Record<string, (records: readonly StreamRecord[]) => unknown> = {
  "by reference (object reuse)": (r) => r,
  "record-copy.ts (chosen)": (r) => copyRecords(r),
  "structuredClone(records)": (r) => structuredClone(r),
  "codec encode+decode (remote)": (r) => decodeBuffer(encodeBuffer([{ kind: "records", records: r }])),
};

function perBuffer(copy: (records: readonly StreamRecord[]) => unknown, records: readonly StreamRecord[]) {
  for (let i = 0; i < 200; i++) copy(records);
  let rounds = 0;
  const start = performance.now();
  while (performance.now() - start < RUN_MS) {
    copy(records);
    rounds++;
  }
  const ms = performance.now() - start;
  const micros = ((ms * 1000) / rounds).toFixed(1).padStart(8);
  const rate = ((rounds * RECORDS_PER_BUFFER) / ms / 1000).toFixed(2).padStart(8);
  return `${micros} µs/buffer  ${rate} M rec/s`;
}

console.log(`Node ${process.version}, ${RECORDS_PER_BUFFER} records per buffer, ${RUN_MS} ms per cell`);
for (const [name, buffer] of Object.entries(workloads(RECORDS_PER_BUFFER))) {
  const first = buffer[0];
  if (first?.kind !== "records") continue;
  console.log(`\n${name}`);
  for (const [what, copy] of Object.entries(copies))
    console.log(`  ${what.padEnd(32)} ${perBuffer(copy, first.records)}`);
}

// --- whole channels

const TOTAL = 200_000;
const BATCH = 100;
const settings = { subpartitionBuffers: 8, bufferRecords: 512, flushMs: 5, creditBuffers: 4 };

async function pump(send: (e: StreamElement) => Promise<void>, input: InputChannel): Promise<number> {
  const started = performance.now();
  const producing = (async () => {
    for (let i = 0; i < TOTAL; i += BATCH) {
      const records = Array.from({ length: BATCH }, (_, j) => ({
        key: `user-${(i + j) % 100}`,
        value: (i + j) * 3,
        ts: 1_700_000_000_000 + i + j,
      }));
      await send({ kind: "records", records });
    }
    await send({ kind: "end" });
  })();
  let received = 0;
  for (;;) {
    const e = await input.next(never);
    if (e.kind === "records") received += e.records.length;
    if (e.kind === "end") break;
  }
  await producing;
  if (received !== TOTAL) throw new Error(`received ${received} of ${TOTAL} records`);
  return TOTAL / ((performance.now() - started) / 1000);
}

async function channels(): Promise<void> {
  const service = new ExchangeService({ logger: silentLogger, ...settings });
  const rpc = new RpcServer({ host: "127.0.0.1", port: 0, logger: silentLogger });
  rpc.addGrpcService(dataExchangeService, service.implementation);
  const address = await rpc.start();
  const clients = new ExchangeClients();
  let run = 0;
  const kinds: Record<string, (producer: string) => InputChannel> = {
    "local, object reuse": (producer) =>
      service.openLocalChannel({
        producerExecutionId: producer,
        downstreamVertex: "sink",
        subpartition: 0,
        epoch: 1n,
        objectReuse: true,
      }),
    "local, copying (chosen)": (producer) =>
      service.openLocalChannel({
        producerExecutionId: producer,
        downstreamVertex: "sink",
        subpartition: 0,
        epoch: 1n,
      }),
    "remote, loopback gRPC": (producer) =>
      connectRemoteChannel({
        address,
        producerExecutionId: producer,
        downstreamVertex: "sink",
        subpartition: 0,
        epoch: 1n,
        creditBuffers: settings.creditBuffers,
        clients,
      }),
  };
  console.log(`\n${TOTAL} {key,value,ts} records producer → consumer in one process, median of 5 runs`);
  try {
    for (const [what, open] of Object.entries(kinds)) {
      const rates: number[] = [];
      for (let i = 0; i < 6; i++) {
        const producer = `exec-${run++}`;
        const [output] = service.registerPartition(producer, "sink", 1, 1n).subpartitions;
        if (output === undefined) throw new Error("one subpartition expected");
        const rate = await pump((e) => output.send(e, never), open(producer));
        if (i > 0) rates.push(rate); // the first run warms up
      }
      rates.sort((a, b) => a - b);
      console.log(`  ${what.padEnd(32)} ${((rates[2] ?? 0) / 1e6).toFixed(2)} M rec/s`);
    }
  } finally {
    service.close();
    clients.close();
    await rpc.shutdown(1_000);
  }
}

await channels();
