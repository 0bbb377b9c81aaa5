// keyed-count: the numbers 1..N, keyed by value mod K; per key a counter in value state; every record becomes
// the line "key,seq", seq being that key's count after the record, written exactly-once to DIR.
//
//   vigil run examples/keyed-count.ts -- --count N --keys K [--rate R] [--checkpoint-interval MS] --output DIR
//
// Checkpoints are taken every MS milliseconds (default 1000). Every key's seq values in DIR are exactly 1..(its number of records), each once, however
// often JobManagers and TaskManagers fail on the way: the counter's state and the source's position are
// restored together, and only lines of completed checkpoints are committed.
import { fileSink, ParameterTool, type StreamExecutionEnvironment } from "vigil";

export async function main(env: StreamExecutionEnvironment, args: string[]): Promise<void> {
  const params = ParameterTool.fromArgs(args);
  const count = params.integer("count", { min: 1 });
  const keys = params.integer("keys", { min: 1 });
  const rate = params.optionalNumber("rate", { above: 0 });
  const output = params.string("output", "DIR");
  const checkpointInterval = params.optionalInteger("checkpoint-interval", { min: 1 }) ?? 1000;
  params.finish();

  env.enableCheckpointing(checkpointInterval);
  env
    .fromSequence(count, { ratePerSecond: rate })
    .uid("numbers")
    .keyBy((n) => n % keys)
    .process<string>((_n, ctx, out) => {
      const counter = ctx.state<number>("count");
      const seq = (counter.value() ?? 0) + 1;
      counter.update(seq);
      out.collect(`${ctx.key},${seq}`);
    })
    .uid("counter")
    .sinkTo(fileSink(output))
    .uid("output");

  await env.execute("keyed-count");
}
