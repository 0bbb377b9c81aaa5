import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkWordCountLines,
  checkWordCountOutput,
  countWords,
  importTokenizer,
  type Tokenizer,
} from "./word-count-check.ts";

const EXAMPLE = new URL("../../examples/word-count.ts", import.meta.url).pathname;

/** The correct output of word-count for these words, in the order they were read. */
function correct(words: readonly string[]): string[] {
  const counts = new Map<string, number>();
  return words.map((w) => {
    const c = (counts.get(w) ?? 0) + 1;
    counts.set(w, c);
    return `${w},${c}`;
  });
}

const totals = (entries: Record<string, number>): Map<string, number> => new Map(Object.entries(entries));

let words: Tokenizer;
let dir: string;

beforeAll(async () => {
  words = await importTokenizer(EXAMPLE);
  dir = await mkdtemp(join(tmpdir(), "vigil-word-count-check-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the example's tokenizer", () => {
  const split = (line: string): string[] => [...words(line)];

  it("lower-cases, and splits at everything but letters, digits and inner apostrophes", () => {
    expect(split("To be, or not to be: that is the question.")).toEqual([
      "to",
      "be",
      "or",
      "not",
      "to",
      "be",
      "that",
      "is",
      "the",
      "question",
    ]);
    expect(split("  'Tis the season -- don't  stop;rock 'n' roll ' 42nd\tstreet ")).toEqual([
      "tis",
      "the",
      "season",
      "don't",
      "stop",
      "rock",
      "n",
      "roll",
      "42nd",
      "street",
    ]);
    expect(split("")).toEqual([]);
    expect(split(" ,.;-'’ ")).toEqual([]);
  });

  it("keeps a word whole whatever its script and encoding, with one spelling per word", () => {
    // Decomposed é (e + U+0301), typographic apostrophe, Devanagari vowel signs, CJK, Cyrillic, Greek.
    expect(split("Café CAFE\u0301 café DON’T naïve नमस्ते दुनिया 東京 Мир ΟΔΟΣ")).toEqual([
      "café",
      "café",
      "café",
      "don't",
      "naïve",
      "नमस्ते",
      "दुनिया",
      "東京",
      "мир",
      "οδος",
    ]);
    expect(split("İstanbul")).toHaveLength(1);
  });
});

describe("checkWordCountLines", () => {
  const input = ["be", "or", "not", "to", "be", "to", "be"];
  const expected = totals({ be: 3, or: 1, not: 1, to: 2 });

  it("accepts exactly-once output in any order", () => {
    const report = checkWordCountLines(correct(input).reverse(), expected);
    expect(report).toEqual({ lines: 7, occurrences: 7, words: 4, problems: [] });
    expect(
      checkWordCountLines(correct(["naïve", "東京", "naïve"]), totals({ naïve: 2, 東京: 1 })).problems,
    ).toEqual([]);
  });

  it("reports a replayed line, a lost one, restarted counts, foreign words and garbage, by word", () => {
    const base = correct(input); // be,1 or,1 not,1 to,1 be,2 to,2 be,3
    expect(checkWordCountLines([...base, "be,2"], expected).problems).toEqual([
      'word "be": duplicate count 2 (2×)',
      'word "be": 4 lines, but the input has it 3 times',
      "8 lines in all, but the input has 7 words",
    ]);
    expect(
      checkWordCountLines(
        base.filter((l) => l !== "to,2"),
        expected,
      ).problems,
    ).toEqual([
      'word "to": count 2 missing of 1..2',
      'word "to": 1 lines, but the input has it 2 times',
      "6 lines in all, but the input has 7 words",
    ]);
    // Counts restored from a wrong (empty) checkpoint: "be" starts over after its first line.
    const restarted = [...base.filter((l) => l !== "be,3"), "be,1"];
    expect(checkWordCountLines(restarted, expected).problems).toEqual([
      'word "be": duplicate count 1 (2×)',
      'word "be": count 3 missing of 1..3',
    ]);
    // A record counted twice in state (not in output): the count runs past the total.
    expect(checkWordCountLines([...base.filter((l) => l !== "or,1"), "or,2"], expected).problems).toEqual([
      'word "or": count 1 missing of 1..1',
      'word "or": count 2 beyond its 1 occurrences',
    ]);
    expect(
      checkWordCountLines([...base, "question,1", "be", ",3", "be,0", "be,x"], expected).problems,
    ).toEqual([
      'line 9: "be" is not "word,count"',
      'line 10: ",3" is not "word,count"',
      'line 11: "be,0" is not "word,count"',
      'line 12: "be,x" is not "word,count"',
      'word "question": 1 lines, but it is not a word of the input',
      "12 lines in all, but the input has 7 words",
    ]);
    expect(checkWordCountLines([], expected).problems).toEqual([
      'word "be": no lines, but the input has it 3 times',
      'word "not": no lines, but the input has it 1 times',
      'word "or": no lines, but the input has it 1 times',
      'word "to": no lines, but the input has it 2 times',
      "0 lines in all, but the input has 7 words",
    ]);
  });

  it("shows at most 20 problems, and at most 5 examples in each", () => {
    const many = totals(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`w${i}`, 1])));
    expect(checkWordCountLines([], many).problems).toHaveLength(20);
    expect(checkWordCountLines([], totals({ a: 8 })).problems[0]).toBe(
      'word "a": no lines, but the input has it 8 times',
    );
    expect(checkWordCountLines(["a,1"], totals({ a: 8 })).problems[0]).toBe(
      'word "a": count 2, 3, 4, 5, 6 (and 2 more) missing of 1..8',
    );
  });
});

describe("checkWordCountOutput", () => {
  it("counts the files the source reads and reads only the committed output", async () => {
    const input = join(dir, "in");
    const output = join(dir, "out");
    await mkdir(join(input, "nested"), { recursive: true });
    await mkdir(output);
    // CRLF, empty lines, no final line break, an empty file; a hidden file and a subdirectory are not read.
    await writeFile(join(input, "a.txt"), "The café\r\n\r\nthe END\r\n");
    await writeFile(join(input, "b.txt"), "\nnamaste नमस्ते\n\nthe");
    await writeFile(join(input, "c.txt"), "");
    await writeFile(join(input, ".hidden"), "hidden words\n");
    await writeFile(join(input, "nested", "d.txt"), "nested words\n");
    expect([...(await countWords(input, words))].sort()).toEqual([
      ["café", 1],
      ["end", 1],
      ["namaste", 1],
      ["the", 3],
      ["नमस्ते", 1],
    ]);

    const lines = correct(["the", "café", "the", "end", "namaste", "नमस्ते", "the"]);
    await writeFile(join(output, "part-output-x-0-2-0-0"), `${lines.slice(0, 3).join("\n")}\n`);
    await writeFile(join(output, "part-output-x-1-2-0-0"), `${lines.slice(3).join("\n")}\n`);
    await writeFile(join(output, ".part-output-x-0-2-0-1.pending"), "the,4\n");
    await writeFile(join(output, ".part-output-x-1-2-0-1.inprogress"), "end,2\n");
    expect(await checkWordCountOutput(input, output, words)).toEqual({
      lines: 7,
      occurrences: 7,
      words: 5,
      problems: [],
    });

    // An earlier attempt's part committed a second time (say, under another name).
    await writeFile(join(output, "part-output-x-1-3-0-0"), `${lines.slice(3).join("\n")}\n`);
    expect((await checkWordCountOutput(input, output, words)).problems).toEqual([
      'word "end": duplicate count 1 (2×)',
      'word "end": 2 lines, but the input has it 1 times',
      'word "namaste": duplicate count 1 (2×)',
      'word "namaste": 2 lines, but the input has it 1 times',
      'word "the": duplicate count 3 (2×)',
      'word "the": 4 lines, but the input has it 3 times',
      'word "नमस्ते": duplicate count 1 (2×)',
      'word "नमस्ते": 2 lines, but the input has it 1 times',
      "11 lines in all, but the input has 7 words",
    ]);
  });

  it("refuses an application without a tokenizer", async () => {
    const keyedCount = new URL("../../examples/keyed-count.ts", import.meta.url).pathname;
    await expect(importTokenizer(keyedCount)).rejects.toThrow(/exports no function "words"/);
  });
});
