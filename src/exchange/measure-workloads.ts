// The buffers the exchange's measurements (codec.measure.ts, local-copy.measure.ts) run on.
import type { StreamElement } from "../runtime/streaming/elements.ts";

/** One buffer per kind of record: `n` records, then a barrier. */
export function workloads(n: number): Record<string, StreamElement[]> {
  const barrier: StreamElement = { kind: "barrier", checkpointId: 7n, timestampMs: 1, savepoint: false };
  const of = (f: (i: number) => unknown): StreamElement[] => [
    { kind: "records", records: Array.from({ length: n }, (_, i) => f(i)) },
    barrier,
  ];
  return {
    "objects {key,value,ts}": of((i) => ({
      key: `user-${i % 100}`,
      value: i * 3,
      ts: 1_700_000_000_000 + i,
    })),
    integers: of((i) => i * 7),
    "strings (40 chars)": of((i) => `line ${i} lorem ipsum dolor sit amet consec`.slice(0, 40)),
    "nested, bigint field": of((i) => ({
      id: BigInt(i) * 1_000_000_000_000n,
      tags: ["a", "b", String(i)],
      m: { x: i / 3, y: null, ok: true },
    })),
    "tuples [word, 1]": of((i) => [`word-${i % 300}`, 1]),
  };
}
