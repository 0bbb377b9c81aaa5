// The DataExchange service as grpc-js sees it, built from the generated streaming method table. Consumer
// messages (small, rare) use the generated protobuf codec. Producer messages carry the data, so they are
// framed by hand, byte-compatible with `ProducerMessage { bytes buffer = 1; }`: the generated codec goes
// through number[] for bytes and costs ~620 µs for a 20 KB buffer, more than encoding its 512 records.
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import { InternalError } from "../common/errors.ts";
import type { ConsumerMessage, ProducerMessage } from "../generated/records.ts";
import { DataExchangeStreamingMethods } from "../generated/services.ts";

const method = DataExchangeStreamingMethods.readPartition;

/** The gRPC path of ReadPartition, for messages. */
export const READ_PARTITION_PATH = method.path;

export const readPartitionDefinition: MethodDefinition<ConsumerMessage, ProducerMessage> = {
  path: method.path,
  requestStream: true,
  responseStream: true,
  requestSerialize: (m: ConsumerMessage) => Buffer.from(method.request.encode(m)),
  requestDeserialize: (b: Buffer) => method.request.decode(b),
  responseSerialize: (m: ProducerMessage) => encodeProducerMessage(m.buffer),
  responseDeserialize: (b: Buffer): ProducerMessage => ({ buffer: decodeProducerMessage(b) }),
};

/** `server.addService(dataExchangeService, { readPartition: handler })` on any grpc-js server. */
export const dataExchangeService: ServiceDefinition = { readPartition: readPartitionDefinition };

const BUFFER_TAG = (1 << 3) | 2; // field 1, length-delimited

/** `ProducerMessage { buffer }` in protobuf encoding (one copy of the payload). */
export function encodeProducerMessage(buffer: Uint8Array): Buffer {
  if (buffer.byteLength === 0) return Buffer.alloc(0); // proto3 leaves a default field out
  const header: number[] = [BUFFER_TAG];
  let n = buffer.byteLength;
  while (n > 0x7f) {
    header.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  header.push(n);
  const out = Buffer.allocUnsafe(header.length + buffer.byteLength);
  out.set(header, 0);
  out.set(buffer, header.length);
  return out;
}

/** The `buffer` field of an encoded ProducerMessage, without copying; skips fields it does not know. */
export function decodeProducerMessage(bytes: Buffer): Buffer {
  let pos = 0;
  let result: Buffer = Buffer.alloc(0);
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = bytes[pos++];
      if (b === undefined) throw malformed(bytes, "truncated varint");
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
    }
    throw malformed(bytes, "varint too long");
  };
  while (pos < bytes.length) {
    const tag = varint();
    const wireType = tag & 7;
    if (wireType === 2) {
      const length = varint();
      if (pos + length > bytes.length) throw malformed(bytes, "field runs past the end");
      if (tag >>> 3 === 1) result = bytes.subarray(pos, pos + length);
      pos += length;
    } else if (wireType === 0) varint();
    else if (wireType === 1) pos += 8;
    else if (wireType === 5) pos += 4;
    else throw malformed(bytes, `unsupported wire type ${wireType}`);
  }
  if (pos > bytes.length) throw malformed(bytes, "field runs past the end");
  return result;
}

function malformed(bytes: Buffer, detail: string): InternalError {
  return new InternalError(
    `data exchange: a ProducerMessage of ${bytes.length} bytes is malformed: ${detail}`,
  );
}
