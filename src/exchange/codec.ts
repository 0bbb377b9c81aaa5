// One network buffer (a batch of stream elements) as bytes. Chosen by measurement (codec.measure.ts, Node
// 20.20, 2 cores, 512 records per buffer; encode / decode in million records/s, then bytes per buffer):
//
//   codec                           {key,value,ts}       integers            40-char strings     nested+bigint
//   v8.serialize(whole buffer)      7.9/3.3   20508 B    111/64   1643 B     48/22   21621 B     3.3/1.4  33784 B
//   JSON + bigint replacer/reviver  3.4/1.5   25279 B    20/7.1   2511 B     10/6.3  22127 B     1.3/0.5  49856 B
//   JSON, only barrier id special   5.5/5.6   25272 B    84/82    2504 B     19/34   22120 B     fails on bigint
//   v8 Serializer, framed (chosen)  7.7/3.4   20421 B    124/72   1549 B     49/23   21527 B     3.3/1.5  33690 B
//   hand-rolled tagged binary       3.1/2.8   27100 B    47/51    2584 B     15/13   23064 B     1.2/1.2  50820 B
//
// v8's serializer is the structured-clone algorithm itself (Map, Set, Date, bigint, typed arrays, shared and
// cyclic references), which is exactly what a record may be, and it is the fastest encoder on every workload.
// JSON decodes plain objects faster but cannot carry bigint, Map, Date or undefined without a reviver, which
// makes it 2-3x slower than v8. So: v8's Serializer, framed by us (a format version, one tag per element, a
// barrier's fields as fixed-width numbers), the records of a batch written as one value. Both ends must run
// the same Node major (v8 reads older formats, not newer ones); a TaskManager fleet runs one build.
import v8 from "node:v8";
import { InternalError, InvalidArgumentError } from "../common/errors.ts";
import type { StreamElement, StreamRecord } from "../runtime/streaming/elements.ts";

/** Bumped when the framing changes; a reader refuses other versions instead of misreading them. */
export const BUFFER_FORMAT_VERSION = 1;

const RECORDS = 1;
const BARRIER = 2;
const END = 3;
const MAX_U64 = (1n << 64n) - 1n;

/**
 * Encodes one buffer. Throws InvalidArgumentError when a record is not a structured-clone value (a function,
 * a symbol, …) or a barrier's checkpoint id does not fit 64 bits.
 */
export function encodeBuffer(elements: readonly StreamElement[]): Buffer {
  const s = new v8.Serializer();
  s.writeHeader();
  s.writeUint32(BUFFER_FORMAT_VERSION);
  s.writeUint32(elements.length);
  for (const e of elements) {
    switch (e.kind) {
      case "records":
        s.writeUint32(RECORDS);
        try {
          s.writeValue(e.records);
        } catch (error: unknown) {
          throw unsendableRecord(error);
        }
        break;
      case "barrier":
        if (e.checkpointId < 0n || e.checkpointId > MAX_U64)
          throw new InvalidArgumentError(
            `data exchange: barrier checkpoint id ${e.checkpointId} does not fit an unsigned 64-bit integer`,
          );
        s.writeUint32(BARRIER);
        s.writeUint64(Number(e.checkpointId >> 32n), Number(e.checkpointId & 0xffffffffn));
        s.writeDouble(e.timestampMs);
        s.writeUint32(e.savepoint ? 1 : 0);
        break;
      case "end":
        s.writeUint32(END);
        break;
    }
  }
  return s.releaseBuffer();
}

/** Decodes one buffer. Throws InternalError when the bytes are not a buffer of this format version. */
export function decodeBuffer(bytes: Uint8Array): StreamElement[] {
  try {
    const d = new v8.Deserializer(bytes);
    d.readHeader();
    const version = d.readUint32();
    if (version !== BUFFER_FORMAT_VERSION)
      throw new Error(
        `format version ${version}, this process reads version ${BUFFER_FORMAT_VERSION} (mixed vigil versions?)`,
      );
    const count = d.readUint32();
    const out: StreamElement[] = [];
    for (let i = 0; i < count; i++) {
      const kind = d.readUint32();
      if (kind === RECORDS) {
        const records: unknown = d.readValue();
        if (!Array.isArray(records)) throw new Error(`element ${i}: records are not an array`);
        out.push({ kind: "records", records: records as StreamRecord[] });
      } else if (kind === BARRIER) {
        const [hi, lo] = d.readUint64();
        const checkpointId = (BigInt(hi) << 32n) | BigInt(lo);
        const timestampMs = d.readDouble();
        out.push({ kind: "barrier", checkpointId, timestampMs, savepoint: d.readUint32() === 1 });
      } else if (kind === END) {
        out.push({ kind: "end" });
      } else throw new Error(`element ${i}: unknown kind ${kind}`);
    }
    return out;
  } catch (error: unknown) {
    throw new InternalError(
      `data exchange: a buffer of ${bytes.byteLength} bytes cannot be decoded: ${describe(error)}`,
      error,
    );
  }
}

/** Why a record cannot go to another subtask, local or remote: it is not a structured-clone value. */
export function unsendableRecord(error: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    `data exchange: a record cannot be sent to another subtask (${describe(error)}); records must be ` +
      "structured-clone values (numbers, strings, bigint, plain objects, arrays, Map, Set, Date, …)",
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
