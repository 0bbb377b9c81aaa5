import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkKeyedCountLines, checkKeyedCountOutput } from "./keyed-count-check.ts";

/** The correct output of keyed-count for 1..count mod keys, in processing order. */
function correct(count: number, keys: number): string[] {
  const seq = new Map<number, number>();
  const lines: string[] = [];
  for (let n = 1; n <= count; n++) {
    const k = n % keys;
    const s = (seq.get(k) ?? 0) + 1;
    seq.set(k, s);
    lines.push(`${k},${s}`);
  }
  return lines;
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "vigil-keyed-count-check-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("checkKeyedCountLines", () => {
  it("accepts exactly-once output in any order", () => {
    const lines = correct(20, 3).reverse();
    const report = checkKeyedCountLines(lines, { count: 20, keys: 3 });
    expect(report.problems).toEqual([]);
    expect(report.lines).toBe(20);
    expect([...report.perKey]).toEqual([
      ["0", 6],
      ["1", 7],
      ["2", 7],
    ]);
  });

  it("reports a replayed line, a lost one, a gap, stray keys and garbage", () => {
    const base = correct(10, 2); // key 1: 1..5, key 0: 1..5
    expect(checkKeyedCountLines([...base, "1,3"], { count: 10, keys: 2 }).problems).toEqual([
      "key 1: duplicate seq 3 (2×)",
      "key 1: seq 6 missing of 1..6",
      "key 1: 6 lines, but 5 records have this key",
      "11 lines in all, but the run had 10 records",
    ]);
    expect(
      checkKeyedCountLines(
        base.filter((l) => l !== "0,5"),
        { count: 10, keys: 2 },
      ).problems,
    ).toEqual(["key 0: 4 lines, but 5 records have this key", "9 lines in all, but the run had 10 records"]);
    // State restored from a wrong checkpoint: seq restarts, so 1..2 repeat and the top is missing.
    const restarted = [
      ...base.filter((l) => !l.startsWith("0,") || l === "0,1" || l === "0,2"),
      "0,1",
      "0,2",
      "0,3",
    ];
    expect(checkKeyedCountLines(restarted, { count: 10, keys: 2 }).problems).toEqual([
      "key 0: duplicate seq 1 (2×), 2 (2×)",
      "key 0: seq 4, 5 missing of 1..5",
    ]);
    expect(checkKeyedCountLines([...base, "5,1", "x"], { count: 12, keys: 2 }).problems).toEqual([
      'line 12: "x" is not "key,seq"',
      "key 0: 5 lines, but 6 records have this key",
      "key 1: 5 lines, but 6 records have this key",
      "key 5: not a key of the run (keys are 0..1)",
    ]);
    expect(checkKeyedCountLines([], { count: 3, keys: 2 }).problems).toEqual([
      "key 0: no lines, but 1 records have this key",
      "key 1: no lines, but 2 records have this key",
      "0 lines in all, but the run had 3 records",
    ]);
  });
});

describe("checkKeyedCountOutput", () => {
  it("reads only the visible files: in-progress and pending ones are not committed", async () => {
    const lines = correct(30, 4);
    await writeFile(join(dir, "part-a-0"), lines.slice(0, 12).join("\n") + "\n");
    await writeFile(join(dir, "part-a-1"), lines.slice(12).join("\n") + "\n");
    await writeFile(join(dir, ".part-a-2.pending"), "1,99\n");
    await writeFile(join(dir, ".part-a-3.inprogress"), "2,99\n");
    expect((await checkKeyedCountOutput(dir, { count: 30, keys: 4 })).problems).toEqual([]);

    await writeFile(join(dir, "part-b-0"), "3,7\n");
    expect((await checkKeyedCountOutput(dir, { count: 30, keys: 4 })).problems).toEqual([
      "key 3: duplicate seq 7 (2×)",
      "key 3: seq 8 missing of 1..8",
      "key 3: 8 lines, but 7 records have this key",
      "31 lines in all, but the run had 30 records",
    ]);
  });
});
