import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { codecs, type JobGraph } from "../generated/records.ts";
import { partitioningName } from "../runtime/job-graph.ts";
import { type CompileOptions, checkFunctions, compileApplication, resolveFunctions } from "./compile.ts";
import type { ApplicationModule, StreamExecutionEnvironment } from "./environment.ts";
import { ApplicationError } from "./errors.ts";
import {
  type Collector,
  functionLookup,
  type Key,
  type KeyedProcessContext,
  lookupFunction,
  type ValueState,
} from "./functions.ts";
import { fileSink } from "./index.ts";
import { importApplication } from "./loader.ts";

const EXAMPLES = new URL("../../examples/", import.meta.url).pathname;
const OPTIONS: CompileOptions = { defaultParallelism: 1, workingDirectory: "/work" };

type Main = (env: StreamExecutionEnvironment, args: string[]) => void | Promise<void>;

function compile(main: Main, args: string[] = [], options: Partial<CompileOptions> = {}) {
  return compileApplication({ main }, args, { ...OPTIONS, ...options });
}

function edges(graph: JobGraph): string[] {
  return graph.edges.map((e) => `${e.source} -> ${e.target} ${partitioningName(e.partitioning)}`);
}

function vertices(graph: JobGraph): [string, string, number][] {
  return graph.vertices.map((v) => [v.id, v.operatorKind, v.parallelism]);
}

/** The runtime's context for one key (state and collector), enough to call a keyed process function by hand. */
function keyedContext(key: Key, collected: unknown[]): KeyedProcessContext<Key> & Collector<unknown> {
  const states = new Map<string, unknown>();
  return {
    key,
    collect: (record) => void collected.push(record),
    state<S>(name: string): ValueState<S> {
      return {
        value: () => states.get(name) as S | undefined,
        update: (v: S) => void states.set(name, v),
        clear: () => void states.delete(name),
      };
    },
  };
}

describe("the examples", () => {
  let keyedCount: ApplicationModule;
  let wordCount: ApplicationModule;
  beforeAll(async () => {
    keyedCount = await importApplication(join(EXAMPLES, "keyed-count.ts"));
    wordCount = await importApplication(join(EXAMPLES, "word-count.ts"));
  });

  const keyedArgs = ["--count", "1000", "--keys", "10", "--rate", "50", "--output", "out"];

  it("keyed-count: sequence → hash → keyed counter → forward → exactly-once file sink", async () => {
    const { graph, functions } = await compileApplication(keyedCount, keyedArgs, {
      ...OPTIONS,
      defaultParallelism: 3,
    });
    expect(graph.name).toBe("keyed-count");
    expect(vertices(graph)).toEqual([
      ["numbers", "source.sequence", 3],
      ["counter", "user.keyed-process", 3],
      ["output", "sink.exactly-once-file", 3],
    ]);
    expect(graph.vertices.map((v) => v.configJson)).toEqual([
      '{"count":1000,"ratePerSecond":50}',
      "",
      '{"path":"/work/out"}',
    ]);
    expect(edges(graph)).toEqual(["numbers -> counter hash", "counter -> output forward"]);
    expect(graph.configJson).toBe('{"checkpointing":{"intervalMs":1000}}');
    expect(graph.jobId).toMatch(/^[0-9a-f]{32}$/);
    expect(codecs.JobGraph.decode(codecs.JobGraph.encode(graph))).toEqual(graph);

    // The functions do what the example says: key = value mod K, and "key,seq" per record.
    expect(lookupFunction(functions, "counter:key", "key-selector")(23)).toBe(3);
    const process = lookupFunction(functions, "counter", "keyed-process");
    const lines: unknown[] = [];
    const ctx = keyedContext(3, lines);
    process(3, ctx);
    process(13, ctx);
    expect(lines).toEqual(["3,1", "3,2"]);
  });

  it("keyed-count: the same arguments compile to the same graph and job id, and resolve", async () => {
    const first = await compileApplication(keyedCount, keyedArgs, OPTIONS);
    const second = await compileApplication(keyedCount, keyedArgs, OPTIONS);
    expect(second.graph).toEqual(first.graph);
    const functions = await resolveFunctions(keyedCount, keyedArgs, first.graph, OPTIONS);
    expect([...functions.keys()].sort()).toEqual(["counter", "counter:key"]);
  });

  it("keyed-count: argument errors name the flag", async () => {
    await expect(compileApplication(keyedCount, ["--count", "10", "--output", "o"], OPTIONS)).rejects.toThrow(
      "application main(env, args) failed: --keys: is required; pass --keys N (an integer ≥ 1)",
    );
    await expect(
      compileApplication(keyedCount, ["--count", "x", "--keys", "2", "--output", "o"], OPTIONS),
    ).rejects.toThrow('--count: "x" is not an integer ≥ 1');
    await expect(compileApplication(keyedCount, [...keyedArgs, "--kyes", "3"], OPTIONS)).rejects.toThrow(
      "--kyes: unknown flag; use --count, --keys, --rate, --output",
    );
  });

  it("word-count: files → words → ones → hash → sum → lines → file sink", async () => {
    const { graph, functions } = await compileApplication(
      wordCount,
      ["--input", "/books", "--output", "counts", "--rate", "5"],
      { ...OPTIONS, defaultParallelism: 2 },
    );
    expect(vertices(graph)).toEqual([
      ["lines", "source.files", 2],
      ["words", "user.flat-map", 2],
      ["ones", "user.map", 2],
      ["counts", "user.sum", 2],
      ["lines-out", "user.map", 2],
      ["output", "sink.exactly-once-file", 2],
    ]);
    expect(edges(graph)).toEqual([
      "lines -> words forward",
      "words -> ones forward",
      "ones -> counts hash",
      "counts -> lines-out forward",
      "lines-out -> output forward",
    ]);
    const config = Object.fromEntries(graph.vertices.map((v) => [v.id, v.configJson]));
    expect(config).toMatchObject({
      lines: '{"path":"/books","ratePerSecond":5}',
      counts: '{"field":"count"}',
      output: '{"path":"/work/counts"}',
    });
    expect([...lookupFunction(functions, "words", "flat-map")("To be, or not")]).toEqual([
      "to",
      "be",
      "or",
      "not",
    ]);
    expect(lookupFunction(functions, "counts:key", "key-selector")({ word: "be", count: 1 })).toBe("be");
    expect(graph.configJson).toBe('{"checkpointing":{"intervalMs":1000}}');
    checkFunctions(graph, functions);
  });
});

describe("compileApplication", () => {
  const pipeline: Main = async (env) => {
    const numbers = env.fromSequence(100);
    const evens = numbers.filter((n) => n % 2 === 0);
    evens.map((n) => n * 10).print();
    await env.execute();
  };

  it("derives uids from the pipeline position, the same on every compilation", async () => {
    const first = await compile(pipeline);
    const second = await compile(pipeline);
    expect(first.graph.vertices.map((v) => v.id)).toEqual(["sequence-1", "filter-2", "map-3", "print-4"]);
    expect(second.graph).toEqual(first.graph);
    expect(first.graph.name).toBe("job");
    expect(first.graph.vertices.map((v) => v.name)).toEqual(["sequence-1", "filter-2", "map-3", "print-4"]);
  });

  it("keeps the uids and names the application gives", async () => {
    const { graph, functions } = await compile(async (env) => {
      env
        .fromSequence(5)
        .uid("numbers")
        .map((n) => n + 1)
        .uid("plus-one")
        .name("Add one")
        .print("p")
        .uid("out");
      await env.execute("named");
    });
    expect(graph.vertices.map((v) => [v.id, v.name, v.configJson])).toEqual([
      ["numbers", "numbers", '{"count":5}'],
      ["plus-one", "Add one", ""],
      ["out", "out", '{"prefix":"p"}'],
    ]);
    expect(lookupFunction(functions, "plus-one", "map")(1)).toBe(2);
  });

  it("refuses two operators with one uid, naming both", async () => {
    const failure = compile(async (env) => {
      env.fromSequence(5).uid("x").map(String).uid("x").print();
      await env.execute();
    });
    await expect(failure).rejects.toBeInstanceOf(ApplicationError);
    await expect(failure).rejects.toThrow(
      'fromSequence #1 (uid "x") and map #2 (uid "x") have the same uid; give each operator a unique uid',
    );
    // A user uid that equals a derived one is a duplicate too.
    await expect(
      compile(async (env) => {
        env.fromSequence(5).map(String).uid("sequence-1").print();
        await env.execute();
      }),
    ).rejects.toThrow('fromSequence #1 (uid "sequence-1") and map #2 (uid "sequence-1") have the same uid');
  });

  it("refuses an invalid parallelism or uid, naming the operator", async () => {
    await expect(
      compile(async (env) => {
        env.fromSequence(5).map(String).name("fmt").setParallelism(0);
        await env.execute();
      }),
    ).rejects.toThrow(
      'application main(env, args) failed: map #2 (uid "map-2", name "fmt"): setParallelism(0): parallelism must be an integer from 1 to 1024',
    );
    await expect(
      compile(async (env) => {
        env.fromSequence(5).uid("a b");
        await env.execute();
      }),
    ).rejects.toThrow(`fromSequence #1 (uid "sequence-1"): uid("a b"): "a b" is invalid; use 1-128 letters`);
    await expect(
      compile(async (env) => {
        env.setParallelism(1.5);
        await env.execute();
      }),
    ).rejects.toThrow("env.setParallelism(1.5): parallelism must be an integer from 1 to 1024");
    await expect(compile(pipeline, [], { defaultParallelism: 0 })).rejects.toThrow(
      "default parallelism 0 is invalid; use an integer from 1 to 1024",
    );
  });

  it("connects forward at equal parallelism, rebalance otherwise, hash behind keyBy", async () => {
    const { graph } = await compile(
      async (env) => {
        env.setParallelism(4);
        const words = env.fromSequence(10).setParallelism(2).map(String);
        const counted = words.keyBy((w) => w.length).reduce((a, b) => a + b);
        counted
          .map((s) => s.length)
          .setParallelism(4)
          .print();
        await env.execute();
      },
      [],
      { defaultParallelism: 8 },
    );
    expect(vertices(graph)).toEqual([
      ["sequence-1", "source.sequence", 2],
      ["map-2", "user.map", 4],
      ["reduce-3", "user.reduce", 4],
      ["map-4", "user.map", 4],
      ["print-5", "sink.print", 4],
    ]);
    expect(edges(graph)).toEqual([
      "sequence-1 -> map-2 rebalance",
      "map-2 -> reduce-3 hash",
      "reduce-3 -> map-4 forward",
      "map-4 -> print-5 forward",
    ]);
  });

  it("unions streams into one operator with an edge from each", async () => {
    const { graph } = await compile(async (env) => {
      const a = env.fromSequence(10).uid("a");
      const b = env.fromSequence(20).uid("b").setParallelism(2);
      const c = env.fromSequence(30).uid("c");
      a.union(b, c)
        .keyBy((n) => n % 3)
        .sum()
        .uid("total")
        .print()
        .uid("out");
      a.union(b).print().uid("raw");
      await env.execute();
    });
    expect(edges(graph)).toEqual([
      "a -> total hash",
      "b -> total hash",
      "c -> total hash",
      "total -> out forward",
      "a -> raw forward",
      "b -> raw rebalance",
    ]);
    expect(graph.vertices.find((v) => v.id === "total")?.configJson).toBe("");
  });

  it("refuses a stream unioned twice and a keyed operator wider than the key groups", async () => {
    await expect(
      compile(async (env) => {
        const a = env.fromSequence(10);
        a.union(a).print();
        await env.execute();
      }),
    ).rejects.toThrow('union(): the output of fromSequence #1 (uid "sequence-1") is given more than once');
    await expect(
      compile(async (env) => {
        env
          .fromSequence(10)
          .keyBy((n) => n)
          .sum()
          .setParallelism(200)
          .print();
        await env.execute();
      }),
    ).rejects.toThrow('sum #2 (uid "sum-2"): parallelism 200 exceeds the 128 key groups of a keyed operator');
  });

  it("puts checkpointing and the restart strategy into the job config", async () => {
    const { graph } = await compile(async (env) => {
      env
        .enableCheckpointing(500, { timeoutMs: 10_000, maxConcurrent: 1, minPauseMs: 100 })
        .setRestartStrategy({ type: "fixed-delay", attempts: 5, delayMs: 200 });
      env.fromSequence(Number.POSITIVE_INFINITY).sinkTo(fileSink("/out"));
      await env.execute("configured");
    });
    expect(JSON.parse(graph.configJson)).toEqual({
      checkpointing: { intervalMs: 500, maxConcurrent: 1, minPauseMs: 100, timeoutMs: 10_000 },
      restartStrategy: { attempts: 5, delayMs: 200, type: "fixed-delay" },
    });
    expect(graph.vertices[0]?.configJson).toBe('{"count":0}');
    await expect(
      compile(async (env) => {
        env.setRestartStrategy({ type: "fixed-delay", delayMs: -1 });
        await env.execute();
      }),
    ).rejects.toThrow("env.setRestartStrategy(): restartStrategy.delayMs: must be a non-negative integer");
    await expect(
      compile(async (env) => {
        env.enableCheckpointing(0);
        await env.execute();
      }),
    ).rejects.toThrow(
      "env.enableCheckpointing(0): the interval must be an integer number of milliseconds ≥ 1",
    );
  });

  it("stops main at execute(): code after it never runs", async () => {
    let after = false;
    await compile(async (env) => {
      env.fromSequence(1).print();
      await env.executeAsync();
      after = true;
    });
    expect(after).toBe(false);
  });

  it("refuses a main that fails, builds nothing, never executes, or executes twice", async () => {
    const failure = compile(() => {
      throw new TypeError("boom");
    });
    await expect(failure).rejects.toThrow("application main(env, args) failed: TypeError: boom");
    await expect(failure).rejects.toMatchObject({ code: "INVALID_ARGUMENT", cause: expect.any(TypeError) });
    await expect(compile(async (env) => void (await env.execute()))).rejects.toThrow(
      "main called execute() before adding any operator",
    );
    await expect(compile((env) => void env.fromSequence(3).print())).rejects.toThrow(
      "main returned without calling env.execute()",
    );
    await expect(
      compile((env) => {
        env.fromSequence(3).print();
        void env.execute("one");
        void env.execute("two");
      }),
    ).rejects.toThrow("main called execute() more than once");
    await expect(
      compileApplication({ main: 1 } as unknown as ApplicationModule, [], OPTIONS),
    ).rejects.toThrow("application main(env, args) failed: TypeError");
  });

  it("gives up on a main that hangs when the signal aborts", async () => {
    const controller = new AbortController();
    const hanging = compile(() => new Promise<void>(() => undefined), [], { signal: controller.signal });
    controller.abort(new Error("gave up"));
    await expect(hanging).rejects.toThrow("gave up");
  });

  it("refuses a function that is not one, naming the operator", async () => {
    await expect(
      compile(async (env) => {
        env.fromSequence(3).map(undefined as unknown as (n: number) => number);
        await env.execute();
      }),
    ).rejects.toThrow('map #2 (uid "map-2"): the map function must be a function, got undefined');
  });
});

describe("resolveFunctions", () => {
  const parametrized: Main = async (env, args) => {
    const p = Number(args[0] ?? "1");
    env
      .fromSequence(10)
      .uid("numbers")
      .setParallelism(p)
      .keyBy((n) => n % 2)
      .reduce((a, b) => a + b)
      .uid("sums")
      .print()
      .uid("out");
    await env.execute("sums");
  };

  it("returns the functions of the graph main builds again", async () => {
    const { graph } = await compile(parametrized, ["2"]);
    const functions = await resolveFunctions({ main: parametrized }, ["2"], graph, OPTIONS);
    expect(lookupFunction(functions, "sums", "reduce")(1, 2)).toBe(3);
    expect(lookupFunction(functions, "sums:key", "key-selector")(7)).toBe(1);
    expect(functionLookup(functions)("sums:key")).toBeTypeOf("function");
    expect(functionLookup(functions)("nothing")).toBeUndefined();
    expect(() => lookupFunction(functions, "sums", "map")).toThrow(
      'function "sums" is a reduce function, not a map function',
    );
  });

  it("detects a different pipeline and says how it differs", async () => {
    const { graph } = await compile(parametrized, ["2"]);
    await expect(resolveFunctions({ main: parametrized }, ["3"], graph, OPTIONS)).rejects.toThrow(
      "the application built a different pipeline on the TaskManager: vertex numbers: the parallelism is 3 here but 2 submitted; main must be deterministic",
    );
    const other: Main = async (env) => {
      env.fromSequence(10).uid("numbers").map(String).uid("text").print().uid("out");
      await env.execute("sums");
    };
    await expect(resolveFunctions({ main: other }, [], graph, OPTIONS)).rejects.toThrow(
      "vertex numbers: the parallelism is 1 here but 2 submitted; vertex sums (user.reduce) of the submitted JobGraph is missing here; vertex text (user.map) is not in the submitted JobGraph (and 4 more)",
    );
    const elsewhere = await compile(parametrized, ["2"], { workingDirectory: "/elsewhere", jobId: "fixed" });
    expect(elsewhere.graph.jobId).toBe("fixed");
    // jobId is not compared: the client may assign one.
    await resolveFunctions({ main: parametrized }, ["2"], elsewhere.graph, OPTIONS);
  });

  it("checkFunctions refuses a graph whose user vertices lack functions", async () => {
    const { graph } = await compile(parametrized);
    expect(() => checkFunctions(graph, new Map())).toThrow(
      'vertex sums (user.reduce): the application defines no reduce function "sums"',
    );
  });
});

describe("types", () => {
  it("keeps records typed through the pipeline", async () => {
    await compile(async (env) => {
      const pairs = env.fromSequence(3).map((n) => ({ word: `w${n}`, count: n }));
      pairs.keyBy((p) => p.word).sum("count");
      // @ts-expect-error: sum takes a numeric field only
      pairs.keyBy((p) => p.word).sum("word");
      // @ts-expect-error: sum() without a field needs a stream of numbers
      pairs.keyBy((p) => p.word).sum();
      const long = env.fromSequence(3).filter((n): n is 1 | 2 => n < 3);
      long.map((n: 1 | 2) => n);
      // @ts-expect-error: union needs streams of one type
      pairs.union(long);
      env
        .fromSequence(3)
        .keyBy((n) => `k${n}`)
        .process<number>((n, ctx, out) => {
          const k: string = ctx.key;
          out.collect(n + k.length);
        });
      await env.execute();
    });
  });
});
