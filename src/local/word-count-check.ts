// The exactly-once checker of examples/word-count.ts. It counts the input's words itself (the files the file
// source reads: regular files of the directory whose names do not start with a dot, split into lines at "\n"
// with a trailing "\r" dropped), with the example's own tokenizer, and reads the committed output (the
// visible files of the sink's directory; names starting with a dot are uncommitted). Every word occurring n
// times must have the lines "word,1" … "word,n", each exactly once, and no other word any line. A lost
// record shows as a missing count, a replayed one as a duplicate, counts restored from the wrong checkpoint as
// a repeat or a gap, and a tokenizer that disagrees with this one as foreign words.
import { inputFiles } from "../runtime/streaming/source-files.ts";
import { committedLines } from "./committed-output.ts";

import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { register as registerTsx } from "tsx/esm/api";
import { ApplicationError } from "../api/errors.ts";
import { registerVigilSpecifier } from "../api/loader.ts";

/** The words of one line, as the application splits it. */
export type Tokenizer = (line: string) => Iterable<string>;

export interface WordCountReport {
  /** Committed output lines. */
  readonly lines: number;
  /** Word occurrences in the input: the lines a complete run commits. */
  readonly occurrences: number;
  /** Distinct words in the input. */
  readonly words: number;
  /** Empty when the output is exactly-once and complete; otherwise at most 20 problems, the first ones found. */
  readonly problems: readonly string[];
}

const SHOWN = 20;

/** Checks the committed files of `outputDir` against the words of `inputDir` (see checkWordCountLines). */
export async function checkWordCountOutput(
  inputDir: string,
  outputDir: string,
  words: Tokenizer,
): Promise<WordCountReport> {
  const expected = await countWords(inputDir, words);
  return checkWordCountLines(await committedLines(outputDir), expected);
}

/** How often each word occurs in the files the file source reads from `dir`. */
export async function countWords(dir: string, words: Tokenizer): Promise<Map<string, number>> {
  const totals = new Map<string, number>();
  for (const file of await inputFiles(dir)) {
    for (const line of (await readFile(join(dir, file), "utf8")).split("\n")) {
      for (const word of words(line.endsWith("\r") ? line.slice(0, -1) : line)) {
        totals.set(word, (totals.get(word) ?? 0) + 1);
      }
    }
  }
  return totals;
}

/** The non-empty lines of the committed (visible) files of a file sink's directory, file by file in name order. */
/**
 * Checks "word,count" lines against the input's word totals: each word's counts are exactly 1..(its total),
 * each once; no word outside the input; as many lines as word occurrences in all.
 */
export function checkWordCountLines(
  lines: readonly string[],
  expected: ReadonlyMap<string, number>,
): WordCountReport {
  const problems: string[] = [];
  const problem = (p: string): void => {
    if (problems.length < SHOWN) problems.push(p);
  };
  const counts = new Map<string, number[]>();
  for (const [i, line] of lines.entries()) {
    const comma = line.lastIndexOf(",");
    const count = line.slice(comma + 1);
    if (comma <= 0 || !/^[1-9]\d*$/.test(count)) {
      problem(`line ${i + 1}: ${JSON.stringify(line)} is not "word,count"`);
      continue;
    }
    const word = line.slice(0, comma);
    const list = counts.get(word) ?? [];
    list.push(Number(count));
    counts.set(word, list);
  }

  const everyWord = [...new Set([...expected.keys(), ...counts.keys()])].sort();
  for (const word of everyWord) {
    const name = `word ${JSON.stringify(word)}`;
    const list = counts.get(word) ?? [];
    const total = expected.get(word);
    if (total === undefined) {
      problem(`${name}: ${list.length} lines, but it is not a word of the input`);
      continue;
    }
    if (list.length === 0) {
      problem(`${name}: no lines, but the input has it ${total} times`);
      continue;
    }
    const seen = new Map<number, number>();
    for (const c of list) seen.set(c, (seen.get(c) ?? 0) + 1);
    const duplicates = [...seen].filter(([, n]) => n > 1).map(([c, n]) => `${c} (${n}×)`);
    if (duplicates.length > 0) problem(`${name}: duplicate count ${listed(duplicates)}`);
    const missing: number[] = [];
    for (let c = 1; c <= total; c++) if (!seen.has(c)) missing.push(c);
    if (missing.length > 0) problem(`${name}: count ${listed(missing)} missing of 1..${total}`);
    const beyond = [...seen.keys()].filter((c) => c > total).sort((a, b) => a - b);
    if (beyond.length > 0) problem(`${name}: count ${listed(beyond)} beyond its ${total} occurrences`);
    if (list.length !== total) problem(`${name}: ${list.length} lines, but the input has it ${total} times`);
  }
  const occurrences = [...expected.values()].reduce((a, b) => a + b, 0);
  if (lines.length !== occurrences) {
    problem(`${lines.length} lines in all, but the input has ${occurrences} words`);
  }
  return { lines: lines.length, occurrences, words: expected.size, problems };
}

/**
 * The `words` function an application file exports (examples/word-count.ts), loaded as vigil loads
 * applications, so the checker splits lines exactly as the job does.
 */
export async function importTokenizer(applicationFile: string): Promise<Tokenizer> {
  registerVigilSpecifier();
  const namespace = registerTsx({ namespace: `vigil-check-${randomUUID()}` });
  const exports: unknown = await namespace.import(
    pathToFileURL(resolve(applicationFile)).href,
    import.meta.url,
  );
  const words = typeof exports === "object" && exports !== null ? Reflect.get(exports, "words") : undefined;
  if (typeof words !== "function") {
    throw new ApplicationError(
      `application ${applicationFile} exports no function "words"; export the tokenizer main uses, so the word-count checker splits lines as the job does`,
    );
  }
  return words as Tokenizer;
}

/** Regular files not starting with a dot, in name order (what source.files reads, and what a sink committed). */
function listed(items: readonly (string | number)[]): string {
  const shown = items.slice(0, 5).join(", ");
  return items.length > 5 ? `${shown} (and ${items.length - 5} more)` : shown;
}
