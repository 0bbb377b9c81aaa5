// Measures buffer codecs (the numbers at the top of codec.ts come from here):
//   node --import tsx src/exchange/codec.measure.ts
// Candidates: v8.serialize of the whole buffer, JSON with a bigint replacer/reviver, JSON with only the
// barrier id special-cased (wrong for bigint / Map / Date records), the chosen codec (codec.ts: v8's
// Serializer with our framing), and a hand-rolled tagged binary format with a v8 fallback. Also compares the
// generated protobuf codec for ProducerMessage with wire.ts's hand framing.
import v8 from "node:v8";
import { codecs } from "../generated/records.ts";
import type { StreamElement } from "../runtime/streaming/elements.ts";
import { decodeBuffer, encodeBuffer } from "./codec.ts";
import { workloads } from "./measure-workloads.ts";
import { decodeProducerMessage, encodeProducerMessage } from "./wire.ts";

interface Candidate {
  name: string;
  encode(b: readonly StreamElement[]): Uint8Array;
  decode(b: Uint8Array): StreamElement[];
}

const v8Whole: Candidate = {
  name: "v8.serialize(buffer)",
  encode: (b) => v8.serialize(b),
  decode: (b) => v8.deserialize(b) as StreamElement[],
};

const jsonReplacer: Candidate = {
  name: "JSON + bigint replacer/reviver",
  encode: (b) =>
    Buffer.from(JSON.stringify(b, (_k, v: unknown) => (typeof v === "bigint" ? { $n: v.toString() } : v))),
  decode: (b) =>
    JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("utf8"), (_k, v: unknown) =>
      v !== null && typeof v === "object" && "$n" in v ? BigInt((v as { $n: string }).$n) : v,
    ) as StreamElement[],
};

// Only control fields get special handling; records go through plain JSON (wrong for bigint/Map records).
const jsonPlain: Candidate = {
  name: "JSON, barrier id as string (records unsafe)",
  encode: (b) =>
    Buffer.from(
      JSON.stringify(
        b.map((e) => (e.kind === "barrier" ? { ...e, checkpointId: e.checkpointId.toString() } : e)),
      ),
    ),
  decode: (b) =>
    (
      JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("utf8")) as Record<
        string,
        unknown
      >[]
    ).map((e) =>
      e["kind"] === "barrier" ? { ...e, checkpointId: BigInt(e["checkpointId"] as string) } : e,
    ) as StreamElement[],
};

// Hand-rolled tagged binary for JSON-like values; anything else (Map, Date, typed arrays, cycles) via v8.
const T_NULL = 0,
  T_UNDEF = 1,
  T_FALSE = 2,
  T_TRUE = 3,
  T_INT = 4,
  T_F64 = 5,
  T_STR = 6,
  T_ARR = 7,
  T_OBJ = 8,
  T_BIG = 9,
  T_V8 = 10;

class Writer {
  buf = Buffer.allocUnsafe(1 << 16);
  pos = 0;
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v, this.pos);
    this.pos += 4;
  }
  i32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32LE(v, this.pos);
    this.pos += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }
  str(s: string): void {
    const max = s.length * 3;
    this.ensure(4 + max);
    const n = this.buf.write(s, this.pos + 4, "utf8");
    this.buf.writeUInt32LE(n, this.pos);
    this.pos += 4 + n;
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

function writeValue(w: Writer, v: unknown, depth: number): void {
  switch (typeof v) {
    case "number":
      if (Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff && !Object.is(v, -0)) {
        w.u8(T_INT);
        w.i32(v);
      } else {
        w.u8(T_F64);
        w.f64(v);
      }
      return;
    case "string":
      w.u8(T_STR);
      w.str(v);
      return;
    case "boolean":
      w.u8(v ? T_TRUE : T_FALSE);
      return;
    case "undefined":
      w.u8(T_UNDEF);
      return;
    case "bigint":
      w.u8(T_BIG);
      w.str(v.toString());
      return;
    case "object":
      if (v === null) {
        w.u8(T_NULL);
        return;
      }
      if (depth < 32) {
        if (Array.isArray(v)) {
          w.u8(T_ARR);
          w.u32(v.length);
          for (const x of v) writeValue(w, x, depth + 1);
          return;
        }
        if (Object.getPrototypeOf(v) === Object.prototype) {
          const keys = Object.keys(v);
          w.u8(T_OBJ);
          w.u32(keys.length);
          for (const k of keys) {
            w.str(k);
            writeValue(w, (v as Record<string, unknown>)[k], depth + 1);
          }
          return;
        }
      }
      break;
  }
  w.u8(T_V8);
  w.bytes(v8.serialize(v));
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  u8(): number {
    return this.buf[this.pos++]!;
  }
  u32(): number {
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  i32(): number {
    const v = this.buf.readInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }
  str(): string {
    const n = this.u32();
    const s = this.buf.toString("utf8", this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  bytes(): Buffer {
    const n = this.u32();
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

function readValue(r: Reader): unknown {
  const t = r.u8();
  switch (t) {
    case T_NULL:
      return null;
    case T_UNDEF:
      return undefined;
    case T_FALSE:
      return false;
    case T_TRUE:
      return true;
    case T_INT:
      return r.i32();
    case T_F64:
      return r.f64();
    case T_STR:
      return r.str();
    case T_BIG:
      return BigInt(r.str());
    case T_ARR: {
      const n = r.u32();
      const a = new Array<unknown>(n);
      for (let i = 0; i < n; i++) a[i] = readValue(r);
      return a;
    }
    case T_OBJ: {
      const n = r.u32();
      const o: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const k = r.str();
        o[k] = readValue(r);
      }
      return o;
    }
    default:
      return v8.deserialize(r.bytes());
  }
}

const hand: Candidate = {
  name: "hand-rolled tagged binary (v8 fallback)",
  encode(b) {
    const w = new Writer();
    w.u32(b.length);
    for (const e of b) {
      if (e.kind === "records") {
        w.u8(1);
        w.u32(e.records.length);
        for (const r of e.records) writeValue(w, r, 0);
      } else if (e.kind === "barrier") {
        w.u8(2);
        w.str(e.checkpointId.toString());
        w.f64(e.timestampMs);
        w.u8(e.savepoint ? 1 : 0);
      } else w.u8(3);
    }
    return w.buf.subarray(0, w.pos);
  },
  decode(bytes) {
    const r = new Reader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const n = r.u32();
    const out: StreamElement[] = [];
    for (let i = 0; i < n; i++) {
      const k = r.u8();
      if (k === 1) {
        const m = r.u32();
        const records = new Array<unknown>(m);
        for (let j = 0; j < m; j++) records[j] = readValue(r);
        out.push({ kind: "records", records });
      } else if (k === 2) {
        const checkpointId = BigInt(r.str());
        const timestampMs = r.f64();
        out.push({ kind: "barrier", checkpointId, timestampMs, savepoint: r.u8() === 1 });
      } else out.push({ kind: "end" });
    }
    return out;
  },
};

const chosen: Candidate = {
  name: "chosen: v8 Serializer, framed (codec.ts)",
  encode: (b) => encodeBuffer(b),
  decode: (b) => decodeBuffer(b),
};

const RECORDS_PER_BUFFER = 512;
const RUN_MS = 500;

function measure(c: Candidate, buffer: StreamElement[]): string {
  let bytes: Uint8Array;
  try {
    bytes = c.encode(buffer);
    c.decode(bytes);
  } catch (e: unknown) {
    return `fails: ${e instanceof Error ? e.message : String(e)}`;
  }
  for (let i = 0; i < 200; i++) c.decode(c.encode(buffer));
  let rounds = 0;
  let encodeMs = 0;
  let decodeMs = 0;
  const start = performance.now();
  while (performance.now() - start < RUN_MS) {
    const a = performance.now();
    const encoded = c.encode(buffer);
    const b = performance.now();
    c.decode(encoded);
    decodeMs += performance.now() - b;
    encodeMs += b - a;
    rounds++;
  }
  const rate = (ms: number): string => ((rounds * RECORDS_PER_BUFFER) / ms / 1000).toFixed(2);
  return `${String(bytes.byteLength).padStart(6)} B  encode ${rate(encodeMs)} M rec/s  decode ${rate(decodeMs)} M rec/s`;
}

function measureFraming(payload: Uint8Array): void {
  const time = (f: () => void): string => {
    const n = 2_000;
    const start = performance.now();
    for (let i = 0; i < n; i++) f();
    return `${(((performance.now() - start) * 1000) / n).toFixed(1)} µs`;
  };
  const generated = time(() =>
    codecs.ProducerMessage.decode(codecs.ProducerMessage.encode({ buffer: payload })),
  );
  const framed = time(() => decodeProducerMessage(encodeProducerMessage(payload)));
  console.log(
    `\nProducerMessage of ${payload.byteLength} B, encode + decode: generated codec ${generated}, wire.ts ${framed}`,
  );
}

const candidates = [v8Whole, jsonReplacer, jsonPlain, chosen, hand];
console.log(`Node ${process.version}, ${RECORDS_PER_BUFFER} records per buffer, ${RUN_MS} ms per cell`);
for (const [name, buffer] of Object.entries(workloads(RECORDS_PER_BUFFER))) {
  console.log(`\n${name}`);
  for (const c of candidates) console.log(`  ${c.name.padEnd(46)} ${measure(c, buffer)}`);
}
const sample = workloads(RECORDS_PER_BUFFER)["objects {key,value,ts}"];
if (sample !== undefined) measureFraming(encodeBuffer(sample));
