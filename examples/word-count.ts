// word-count: the words of the text files in a directory, counted per word. A streaming count: each word
// occurrence emits that word's count so far as "word,count", so a word's last line holds its total.
//
//   vigil run examples/word-count.ts -- --input DIR --output DIR
import { fileSink, ParameterTool, type StreamExecutionEnvironment } from "vigil";

export async function main(env: StreamExecutionEnvironment, args: string[]): Promise<void> {
  const params = ParameterTool.fromArgs(args);
  const input = params.string("input", "DIR");
  const output = params.string("output", "DIR");
  params.finish();

  env
    .readTextFiles(input)
    .uid("lines")
    .flatMap((line) => line.toLowerCase().split(/[^\p{L}\p{N}']+/u))
    .uid("words")
    .filter((word) => word !== "")
    .uid("non-empty")
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
