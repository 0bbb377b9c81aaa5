import { describe, expect, it } from "vitest";
import { percentile } from "./stats.ts";

describe("percentile", () => {
  it("is the nearest-rank value of the sample, in any order", () => {
    const twenty = Array.from({ length: 20 }, (_, i) => 20 - i);
    expect(percentile(twenty, 50)).toBe(10);
    expect(percentile(twenty, 99)).toBe(20);
    expect(percentile([7], 1)).toBe(7);
    expect(percentile([4, 1, 3, 2], 50)).toBe(2);
    expect(percentile([4, 1, 3, 2], 100)).toBe(4);
    expect(() => percentile([], 50)).toThrow(RangeError);
  });
});
