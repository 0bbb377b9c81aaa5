// The baseline of the shuffle benchmark: the same records, partitioned by the same partitioner into buffers of
// the same size and encoded by the same codec into the same wire bytes (ProducerMessage framing), sent over a
// plain grpc-js bidi stream per subpartition, consumer → producer's server as in the DataExchange. What it
// leaves out is everything vigil adds: the task runtime and operator chain, BufferedOutput's bounded queue,
// credits and the consumer's InputChannel. Its only back-pressure is the transport's own (a write() that
// returns false waits for "drain": HTTP/2 windows), without which the producer would just fill memory.
import {
  Client,
  type ClientDuplexStream,
  credentials,
  Metadata,
  type ServerDuplexStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { monotonicNow } from "../src/common/clock.ts";
import { decodeBuffer, encodeBuffer } from "../src/exchange/codec.ts";
import { decodeProducerMessage, encodeProducerMessage } from "../src/exchange/wire.ts";
import { createPartitioner } from "../src/runtime/streaming/partitioners.ts";
import { benchFunctions } from "./streaming-jobs.ts";
import type { RawProducerSpec, RawStreamSpec } from "./streaming-protocol.ts";

/** source.sequence's batch: the producer loop generates records in batches of this many, as the source does. */
const SOURCE_BATCH = 256;
/** As the task runtime: let timers and I/O run at least this often. */
const YIELD_INTERVAL_MS = 5;

type RawCall = ServerDuplexStream<RawStreamSpec, Uint8Array>;

export const rawExchangeService: ServiceDefinition = {
  read: {
    path: "/vigil.bench.RawExchange/Read",
    requestStream: true,
    responseStream: true,
    requestSerialize: (m: RawStreamSpec) => Buffer.from(JSON.stringify(m)),
    requestDeserialize: (b: Buffer) => JSON.parse(b.toString("utf8")) as RawStreamSpec,
    responseSerialize: (buffer: Uint8Array) => encodeProducerMessage(buffer),
    responseDeserialize: (b: Buffer): Uint8Array => decodeProducerMessage(b),
  },
};

/** The producer side, served on the worker's RPC server. */
export class RawProducers {
  readonly implementation: UntypedServiceImplementation = {
    read: (call: RawCall) => this.attach(call),
  };
  private readonly waiting = new Map<string, { spec: RawProducerSpec; calls: (RawCall | undefined)[] }>();
  private readonly loops = new Set<Promise<void>>();
  private readonly open = new Set<RawCall>();
  private stopping = new AbortController();
  private readonly bufferRecords: number;

  constructor(bufferRecords: number) {
    this.bufferRecords = bufferRecords;
  }

  start(specs: readonly RawProducerSpec[]): void {
    this.stopping = new AbortController();
    for (const spec of specs) {
      const consumers = spec.task.outputs[0]?.consumers ?? 0;
      this.waiting.set(spec.name, { spec, calls: new Array<RawCall | undefined>(consumers).fill(undefined) });
    }
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.waiting.clear();
    await Promise.allSettled([...this.loops]);
    for (const call of this.open) call.end();
    this.open.clear();
  }

  private attach(call: RawCall): void {
    this.open.add(call);
    call.on("error", () => this.open.delete(call));
    call.on("cancelled", () => this.open.delete(call));
    call.once("data", (request: RawStreamSpec) => {
      const entry = this.waiting.get(request.producer);
      if (entry === undefined || entry.calls[request.subpartition] !== undefined) {
        call.emit("error", {
          code: 5,
          details: `no raw producer ${request.producer}/${request.subpartition}`,
        });
        return;
      }
      entry.calls[request.subpartition] = call;
      if (entry.calls.every((c) => c !== undefined)) {
        this.waiting.delete(request.producer);
        const loop = this.run(entry.spec, entry.calls as RawCall[], this.stopping.signal).catch(() => {});
        this.loops.add(loop);
        void loop.finally(() => this.loops.delete(loop));
      }
    });
  }

  /** source.sequence's values for this subtask, routed by the task's own partitioner, 512 to a buffer. */
  private async run(spec: RawProducerSpec, calls: readonly RawCall[], signal: AbortSignal): Promise<void> {
    const { task } = spec;
    const partitioner = createPartitioner({
      output: task.outputs[0]!,
      subtask: task.subtask,
      parallelism: task.parallelism,
      functions: benchFunctions,
    });
    const pending: number[][] = calls.map(() => []);
    const step = task.parallelism;
    let next = task.subtask + 1;
    let yieldedAt = monotonicNow();
    while (!signal.aborted) {
      for (let i = 0; i < SOURCE_BATCH; i++) {
        const v = next;
        next += step;
        const c = partitioner(v);
        const records = pending[c]!;
        records.push(v);
        if (records.length === this.bufferRecords) {
          pending[c] = [];
          const call = calls[c]!;
          if (!call.write(encodeBuffer([{ kind: "records", records }]))) await drained(call, signal);
        }
      }
      if (monotonicNow() - yieldedAt >= YIELD_INTERVAL_MS) {
        await yieldToEventLoop();
        yieldedAt = monotonicNow();
      }
    }
  }
}

/** Resolves when the stream can take more, is gone, or the producer stops. */
function drained(call: RawCall, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      for (const e of ["drain", "close", "error", "cancelled"] as const) call.off(e, done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    for (const e of ["drain", "close", "error", "cancelled"] as const) call.once(e, done);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** The consumer side: one stream per (producer, subpartition), all on one connection, counting records. */
export class RawConsumers {
  private client: Client | undefined;
  private readonly calls: ClientDuplexStream<RawStreamSpec, Uint8Array>[] = [];
  private received = 0;

  get total(): number {
    return this.received;
  }

  start(address: string, streams: readonly RawStreamSpec[]): void {
    const client = new Client(address, credentials.createInsecure());
    this.client = client;
    const method = rawExchangeService.read!;
    for (const spec of streams) {
      const call = client.makeBidiStreamRequest<RawStreamSpec, Uint8Array>(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        new Metadata(),
        {},
      );
      call.on("data", (bytes: Uint8Array) => {
        for (const e of decodeBuffer(bytes)) if (e.kind === "records") this.received += e.records.length;
      });
      // A stream that the producer ends or the benchmark cancels must not crash the worker.
      call.on("error", () => {});
      call.write(spec);
      this.calls.push(call);
    }
  }

  stop(): void {
    for (const call of this.calls.splice(0)) call.cancel();
    this.client?.close();
    this.client = undefined;
  }
}
