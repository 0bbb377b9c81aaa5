// Key groups (as Flink's KeyGroupRangeAssignment): every key belongs to one of `maxParallelism` key groups by a
// hash of its canonical bytes, and subtask i of p owns a contiguous range of groups. Keyed state is stored and
// snapshotted per key group, so a job restored with another parallelism hands whole groups to new owners, and
// the hash partitioner routes a record to the subtask that owns its key's group. Both sides compute the key
// with the same key selector and hash it here, so the bytes must not depend on the process or Node version:
// the canonical form is our own encoding, not v8.serialize or JSON.stringify of an object's insertion order.
import { InvalidArgumentError } from "../common/errors.ts";

/** Key groups per job (Flink's default lower bound); the upper limit on any operator's parallelism. */
export const DEFAULT_MAX_PARALLELISM = 128;

/** An inclusive range of key groups. */
export interface KeyGroupRange {
  readonly start: number;
  readonly end: number;
}

/** MurmurHash3 x86 32-bit of `bytes` (unsigned). */
export function murmur3(bytes: Uint8Array, seed = 0): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const length = bytes.length;
  const blocks = length & ~3;
  let h = seed | 0;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, c2);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[blocks + 2]! << 16;
    if (tail >= 2) k ^= bytes[blocks + 1]! << 8;
    k ^= bytes[blocks]!;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, c2);
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The canonical text of a key: a type tag, then the value. Strings, finite or not numbers, bigints, booleans,
 * null, undefined, and arrays / plain objects of these (object keys sorted). 1 and 1n are different keys,
 * as are "1" and 1. Anything else (Map, Date, functions, class instances) is refused: its bytes would not be
 * stable, and the partitioner and the keyed operator would disagree.
 */
export function canonicalKey(key: unknown): string {
  switch (typeof key) {
    case "string":
      return "s" + key;
    case "number":
      // String(-0) is "0": -0 and 0 are one key, as they are for ===.
      return "n" + String(key);
    case "bigint":
      return "b" + key.toString();
    case "boolean":
      return key ? "t" : "f";
    case "undefined":
      return "u";
    case "object":
      if (key === null) return "z";
      if (Array.isArray(key)) return "a" + JSON.stringify(key.map(canonicalKey));
      if (Object.getPrototypeOf(key) === Object.prototype || Object.getPrototypeOf(key) === null) {
        const entries = Object.keys(key)
          .sort()
          .map((k) => [k, canonicalKey((key as Record<string, unknown>)[k])]);
        return "o" + JSON.stringify(entries);
      }
      break;
    default:
      break;
  }
  const what = typeof key === "object" && key !== null ? (key.constructor?.name ?? "object") : typeof key;
  throw new InvalidArgumentError(
    `key selector returned a ${what}; keys must be strings, numbers, bigints, booleans, null, or arrays / plain objects of these`,
  );
}

const encoder = new TextEncoder();

/** The key group of a canonical key text (see canonicalKey). */
export function keyGroupOfCanonical(canonical: string, maxParallelism = DEFAULT_MAX_PARALLELISM): number {
  return murmur3(encoder.encode(canonical)) % maxParallelism;
}

/** The key group of `key`: murmur3 of its canonical UTF-8 bytes, modulo maxParallelism. */
export function keyGroupOf(key: unknown, maxParallelism = DEFAULT_MAX_PARALLELISM): number {
  return keyGroupOfCanonical(canonicalKey(key), maxParallelism);
}

function checkParallelism(parallelism: number, maxParallelism: number): void {
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > maxParallelism) {
    throw new InvalidArgumentError(
      `parallelism ${parallelism} is invalid for keyed state: it must be from 1 to the max parallelism ${maxParallelism}`,
    );
  }
}

/**
 * The key groups subtask `subtask` of `parallelism` owns: [ceil(i·M/p) .. ceil((i+1)·M/p) − 1], exactly the
 * groups g with subtaskForKeyGroup(g) = i (Flink's computeKeyGroupRangeForOperatorIndex).
 */
export function keyGroupRange(
  subtask: number,
  parallelism: number,
  maxParallelism = DEFAULT_MAX_PARALLELISM,
): KeyGroupRange {
  checkParallelism(parallelism, maxParallelism);
  if (!Number.isInteger(subtask) || subtask < 0 || subtask >= parallelism) {
    throw new InvalidArgumentError(`subtask ${subtask} is out of range for parallelism ${parallelism}`);
  }
  return {
    start: Math.floor((subtask * maxParallelism + parallelism - 1) / parallelism),
    end: Math.floor(((subtask + 1) * maxParallelism - 1) / parallelism),
  };
}

/** The subtask of `parallelism` that owns key group `keyGroup`: floor(g·p / M). */
export function subtaskForKeyGroup(
  keyGroup: number,
  parallelism: number,
  maxParallelism = DEFAULT_MAX_PARALLELISM,
): number {
  return Math.floor((keyGroup * parallelism) / maxParallelism);
}

export function inRange(range: KeyGroupRange, keyGroup: number): boolean {
  return keyGroup >= range.start && keyGroup <= range.end;
}
