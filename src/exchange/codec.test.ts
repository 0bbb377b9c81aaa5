import v8 from "node:v8";
import { describe, expect, it } from "vitest";
import { InternalError, InvalidArgumentError } from "../common/errors.ts";
import { codecs } from "../generated/records.ts";
import type { StreamElement } from "../runtime/streaming/elements.ts";
import { decodeBuffer, encodeBuffer } from "./codec.ts";
import { decodeProducerMessage, encodeProducerMessage } from "./wire.ts";

describe("buffer codec", () => {
  it("round-trips every element kind and structured-clone records", () => {
    const shared = { n: 1 };
    const cyclic: Record<string, unknown> = { name: "self" };
    cyclic["self"] = cyclic;
    const buffer: StreamElement[] = [
      {
        kind: "records",
        records: [
          1,
          -0,
          Number.NaN,
          "text ✓",
          12345678901234567890n,
          null,
          undefined,
          true,
          [1, [2, [3]]],
          { key: "k", value: { nested: [1, 2] } },
          new Map<unknown, unknown>([
            ["a", 1],
            [2n, { b: true }],
          ]),
          new Set([1, "two"]),
          new Date(1_700_000_000_000),
          new Uint8Array([1, 2, 3]),
          [shared, shared],
        ],
      },
      { kind: "barrier", checkpointId: (1n << 64n) - 1n, timestampMs: 1_700_000_000_123.5, savepoint: true },
      { kind: "records", records: [cyclic] },
      { kind: "barrier", checkpointId: 0n, timestampMs: 0, savepoint: false },
      { kind: "end" },
    ];
    const decoded = decodeBuffer(encodeBuffer(buffer));
    expect(decoded).toEqual(buffer);
    const first = decoded[0];
    if (first?.kind !== "records") throw new Error("expected records");
    expect(Object.is(first.records[1], -0)).toBe(true);
    const pair = first.records[14] as unknown[];
    expect(pair[0]).toBe(pair[1]); // shared references stay shared, as in structured clone
    const again = decoded[2];
    if (again?.kind !== "records") throw new Error("expected records");
    const self = again.records[0] as Record<string, unknown>;
    expect(self["self"]).toBe(self);
  });

  it("refuses records that are not structured-clone values, naming the rule", () => {
    const buffer: StreamElement[] = [{ kind: "records", records: [{ f: () => 1 }] }];
    expect(() => encodeBuffer(buffer)).toThrow(InvalidArgumentError);
    expect(() => encodeBuffer(buffer)).toThrow(/structured-clone values/);
    const tooBig: StreamElement[] = [
      { kind: "barrier", checkpointId: 1n << 64n, timestampMs: 0, savepoint: false },
    ];
    expect(() => encodeBuffer(tooBig)).toThrow(/does not fit an unsigned 64-bit integer/);
  });

  it("refuses bytes that are not a buffer of this format", () => {
    expect(() => decodeBuffer(new Uint8Array([1, 2, 3]))).toThrow(InternalError);
    const otherVersion = new v8.Serializer();
    otherVersion.writeHeader();
    otherVersion.writeUint32(99);
    expect(() => decodeBuffer(otherVersion.releaseBuffer())).toThrow(/format version 99/);
    const truncated = encodeBuffer([{ kind: "records", records: ["abc", "def"] }]);
    expect(() => decodeBuffer(truncated.subarray(0, truncated.length - 3))).toThrow(/cannot be decoded/);
  });
});

describe("ProducerMessage framing", () => {
  it("writes exactly what the generated codec writes, and reads what it writes", () => {
    for (const size of [1, 127, 128, 300, 16_384, 70_000]) {
      const payload = new Uint8Array(size).map((_, i) => i % 251);
      const ours = encodeProducerMessage(payload);
      expect(Buffer.compare(ours, Buffer.from(codecs.ProducerMessage.encode({ buffer: payload })))).toBe(0);
      expect(codecs.ProducerMessage.decode(ours).buffer).toEqual(payload);
      expect(new Uint8Array(decodeProducerMessage(ours))).toEqual(payload);
    }
    expect(decodeProducerMessage(encodeProducerMessage(new Uint8Array(0))).length).toBe(0);
  });

  it("skips unknown fields and refuses truncated messages", () => {
    const known = encodeProducerMessage(new Uint8Array([7, 8, 9]));
    // field 2 varint 150, field 3 fixed64, then field 1.
    const withUnknown = Buffer.concat([Buffer.from([0x10, 0x96, 0x01, 0x19, 0, 0, 0, 0, 0, 0, 0, 0]), known]);
    expect([...decodeProducerMessage(withUnknown)]).toEqual([7, 8, 9]);
    expect(() => decodeProducerMessage(known.subarray(0, known.length - 1))).toThrow(/malformed/);
  });
});
