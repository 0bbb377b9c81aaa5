// word-count: the words of the text files in a directory, counted per word. A streaming count: each word
// occurrence emits that word's count so far as "word,count", so a word's last line holds its total.
//
//   vigil run examples/word-count.ts -- --input DIR --output DIR [--rate R] [--checkpoint-interval MS]
//
// Each source subtask reads at most R lines per second when --rate is given (to watch the job run, or to fail
// processes while it does). Checkpoints are taken every MS milliseconds (default 1000). Every word's counts in
// DIR are exactly 1..(its occurrences in the input), each once, however often JobManagers and TaskManagers fail
// on the way: the files' read positions and the counts are restored together, and only lines of completed
// checkpoints are committed.
import { fileSink, ParameterTool, type StreamExecutionEnvironment } from "vigil";

export async function main(env: StreamExecutionEnvironment, args: string[]): Promise<void> {
  const params = ParameterTool.fromArgs(args);
  const input = params.string("input", "DIR");
  const output = params.string("output", "DIR");
  const rate = params.optionalNumber("rate", { above: 0 });
  const checkpointInterval = params.optionalInteger("checkpoint-interval", { min: 1 }) ?? 1000;
  params.finish();

  env.enableCheckpointing(checkpointInterval);
  env
    .readTextFiles(input, { ratePerSecond: rate })
    .uid("lines")
    .flatMap((line) => words(line))
    .uid("words")
    .map((word) => ({ word, count: 1 }))
    .uid("ones")
    .keyBy((pair) => pair.word)
    .sum("count")
    .uid("counts")
    .map(({ word, count }) => `${word},${count}`)
    .uid("lines-out")
    .sinkTo(fileSink(output))
    .uid("output");

  await env.execute("word-count");
}

// A word: letters and digits with their combining marks (accents, vowel signs: "naïve" and "नमस्ते" are one
// word each, however they are encoded), joined by inner apostrophes ("don't", "l'été"); quotes around a word
// are not part of it.
const WORD = /[\p{L}\p{N}][\p{L}\p{M}\p{N}]*(?:'[\p{L}\p{N}][\p{L}\p{M}\p{N}]*)*/gu;

/** The words of a line, lower-cased and in Unicode normal form C, so each word has one spelling. */
export function words(line: string): string[] {
  return line.toLowerCase().normalize("NFC").replaceAll("\u2019", "'").match(WORD) ?? [];
}
