// The exactly-once checker of examples/keyed-count.ts: its committed output (the visible files of the sink's
// directory; names starting with a dot are uncommitted) must hold, for every key, the lines "key,1" …
// "key,n" each exactly once, and N lines in all. A lost record shows as a missing seq or a short total, a
// replayed one as a duplicate, and state restored from the wrong checkpoint as a gap or a repeat.
import { committedLines } from "./committed-output.ts";

export interface KeyedCountExpectation {
  /** N: the records of the run. */
  readonly count: number;
  /** K: keys are n mod K, so the numbers 0..K-1. */
  readonly keys: number;
}

export interface KeyedCountReport {
  readonly lines: number;
  /** Lines per key. */
  readonly perKey: ReadonlyMap<string, number>;
  /** Empty when the output is exactly-once; otherwise at most 20 problems, the first ones found. */
  readonly problems: readonly string[];
}

const SHOWN = 20;

/** Checks the committed files of `dir` (see checkKeyedCountLines). */
export async function checkKeyedCountOutput(
  dir: string,
  expected: KeyedCountExpectation,
): Promise<KeyedCountReport> {
  return checkKeyedCountLines(await committedLines(dir), expected);
}

/**
 * Checks "key,seq" lines: each key's seqs are exactly 1..(its lines), each once; keys are those of
 * `expected`, and each has the records n ≤ N with n mod K = key; N lines in all.
 */
export function checkKeyedCountLines(
  lines: readonly string[],
  expected: KeyedCountExpectation,
): KeyedCountReport {
  const problems: string[] = [];
  const problem = (p: string): void => {
    if (problems.length < SHOWN) problems.push(p);
  };
  const seqs = new Map<string, number[]>();
  for (const [i, line] of lines.entries()) {
    const m = /^(-?\d+),(\d+)$/.exec(line);
    if (m === null) {
      problem(`line ${i + 1}: ${JSON.stringify(line)} is not "key,seq"`);
      continue;
    }
    const [, key, seq] = m as unknown as [string, string, string];
    const list = seqs.get(key) ?? [];
    list.push(Number(seq));
    seqs.set(key, list);
  }

  const perKey = new Map<string, number>();
  for (const [key, list] of [...seqs].sort(([a], [b]) => Number(a) - Number(b))) {
    perKey.set(key, list.length);
    const k = Number(key);
    if (!Number.isInteger(k) || k < 0 || k >= expected.keys) {
      problem(`key ${key}: not a key of the run (keys are 0..${expected.keys - 1})`);
    }
    const counts = new Map<number, number>();
    for (const s of list) counts.set(s, (counts.get(s) ?? 0) + 1);
    const duplicates = [...counts].filter(([, c]) => c > 1).map(([s, c]) => `${s} (${c}×)`);
    if (duplicates.length > 0) problem(`key ${key}: duplicate seq ${listed(duplicates)}`);
    const missing: number[] = [];
    for (let s = 1; s <= list.length; s++) if (!counts.has(s)) missing.push(s);
    if (missing.length > 0) problem(`key ${key}: seq ${listed(missing)} missing of 1..${list.length}`);
    const want = recordsOfKey(k, expected);
    if (Number.isInteger(k) && k >= 0 && k < expected.keys && list.length !== want) {
      problem(`key ${key}: ${list.length} lines, but ${want} records have this key`);
    }
  }
  for (let k = 0; k < expected.keys; k++) {
    if (!seqs.has(String(k)) && recordsOfKey(k, expected) > 0) {
      problem(`key ${k}: no lines, but ${recordsOfKey(k, expected)} records have this key`);
    }
  }
  if (lines.length !== expected.count) {
    problem(`${lines.length} lines in all, but the run had ${expected.count} records`);
  }
  return { lines: lines.length, perKey, problems };
}

/** How many of 1..N are ≡ key (mod K). */
function recordsOfKey(key: number, { count, keys }: KeyedCountExpectation): number {
  if (key === 0) return Math.floor(count / keys);
  return key > count ? 0 : Math.floor((count - key) / keys) + 1;
}

function listed(items: readonly (string | number)[]): string {
  const shown = items.slice(0, 5).join(", ");
  return items.length > 5 ? `${shown} (and ${items.length - 5} more)` : shown;
}
