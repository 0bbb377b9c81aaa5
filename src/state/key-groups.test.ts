import { describe, expect, it } from "vitest";
import {
  canonicalKey,
  DEFAULT_MAX_PARALLELISM,
  keyGroupOf,
  keyGroupRange,
  murmur3,
  subtaskForKeyGroup,
} from "./key-groups.ts";

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("murmur3", () => {
  it("matches the reference MurmurHash3_x86_32 vectors", () => {
    expect(murmur3(utf8(""))).toBe(0);
    expect(murmur3(utf8(""), 1)).toBe(0x514e28b7);
    expect(murmur3(utf8("hello"))).toBe(0x248bfa47);
    expect(murmur3(utf8("The quick brown fox jumps over the lazy dog"))).toBe(0x2e4ff723);
    expect(murmur3(new Uint8Array([0x21, 0x43, 0x65]))).toBe(0x7e4a8634);
  });
});

describe("canonicalKey", () => {
  it("distinguishes types and is independent of object key order", () => {
    const keys = [1, "1", 1n, true, null, undefined, [1], { a: 1 }].map(canonicalKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(canonicalKey({ a: 1, b: [2, "x"] })).toBe(canonicalKey({ b: [2, "x"], a: 1 }));
    expect(canonicalKey(-0)).toBe(canonicalKey(0));
  });

  it("refuses keys without stable bytes, naming the type", () => {
    expect(() => canonicalKey(new Map())).toThrow(/key selector returned a Map/);
    expect(() => canonicalKey(() => 1)).toThrow(/returned a function/);
  });
});

describe("key group ranges", () => {
  it("partition all key groups, and own exactly the groups subtaskForKeyGroup assigns", () => {
    for (let p = 1; p <= DEFAULT_MAX_PARALLELISM; p++) {
      let expectedStart = 0;
      for (let i = 0; i < p; i++) {
        const range = keyGroupRange(i, p);
        expect(range.start).toBe(expectedStart);
        for (let g = range.start; g <= range.end; g++) expect(subtaskForKeyGroup(g, p)).toBe(i);
        expectedStart = range.end + 1;
      }
      expect(expectedStart).toBe(DEFAULT_MAX_PARALLELISM);
    }
  });

  it("refuses a parallelism above the max parallelism", () => {
    expect(() => keyGroupRange(0, 129)).toThrow(/max parallelism 128/);
  });

  it("spreads keys over the key groups", () => {
    const groups = new Set<number>();
    for (let k = 0; k < 2000; k++) groups.add(keyGroupOf(k));
    expect(groups.size).toBe(DEFAULT_MAX_PARALLELISM);
    expect(keyGroupOf("user-42")).toBe(keyGroupOf("user-42"));
  });
});
