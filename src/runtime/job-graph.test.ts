import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../common/errors.ts";
import type { JobGraph } from "../generated/records.ts";
import { MAX_JOB_GRAPH_BYTES, planTasks, validateJobGraph } from "./job-graph.ts";
import { edge, jobGraph, sequenceToDiscard, vertex } from "./testing.ts";

const src = (id: string, parallelism = 1) => vertex(id, "source.sequence", { count: 10 }, parallelism);
const map = (id: string, parallelism = 1) => vertex(id, "map.fail", { afterRecords: 5 }, parallelism);
const sink = (id: string, parallelism = 1) => vertex(id, "sink.discard", {}, parallelism);

function invalid(graph: JobGraph, message: string): void {
  expect(() => validateJobGraph(graph)).toThrow(InvalidArgumentError);
  expect(() => validateJobGraph(graph)).toThrow(message);
}

describe("validateJobGraph", () => {
  it("accepts a source → map → sink chain and a lone source", () => {
    validateJobGraph(jobGraph([src("a", 2), map("b", 2), sink("c", 2)], [edge("a", "b"), edge("b", "c")]));
    validateJobGraph(jobGraph([src("a")]));
    validateJobGraph(jobGraph([src("a"), src("b")]));
  });

  it("requires version 1, a valid job id and a vertex", () => {
    invalid(
      { ...sequenceToDiscard(5), version: 2 },
      "JobGraph version 2 is not supported; this vigil reads version 1",
    );
    invalid({ ...sequenceToDiscard(5), jobId: "a b" }, `job id: "a b" is invalid; use 1-128 letters`);
    invalid({ ...sequenceToDiscard(5), jobId: "" }, `job id: "" is invalid`);
    invalid(jobGraph([]), "JobGraph has no vertices");
  });

  it("checks vertex ids, kinds and parallelism", () => {
    invalid(jobGraph([src("a/b")]), `vertex id: "a/b" is invalid`);
    invalid(jobGraph([src("a"), sink("a")]), "vertex a: id is used by more than one vertex");
    invalid(
      jobGraph([vertex("a", "source.kafka")]),
      'vertex a: operator kind "source.kafka" is unknown; known kinds: map.fail, sink.discard, sink.exactly-once-file, sink.file, sink.print, source.files, source.sequence, user.filter',
    );
    invalid(jobGraph([src("out", 0)]), "vertex out: parallelism 0 is invalid; use 1 to 1024");
    invalid(jobGraph([src("out", 1025)]), "vertex out: parallelism 1025 is invalid; use 1 to 1024");
  });

  it("checks each operator's config, naming the vertex and key", () => {
    invalid(jobGraph([vertex("n", "source.sequence", {})]), "vertex n: config.count: is required");
    invalid(
      jobGraph([vertex("n", "source.sequence", { count: -1 })]),
      "vertex n: config.count: must be a non-negative integer",
    );
    invalid(
      jobGraph([vertex("n", "source.sequence", { count: 1, ratePerSecond: 0 })]),
      "vertex n: config.ratePerSecond: must be a number > 0",
    );
    invalid(
      jobGraph([vertex("l", "source.files", { path: "/in", ratePerSecond: -1 })]),
      "vertex l: config.ratePerSecond: must be a number > 0",
    );
    invalid(
      jobGraph([vertex("n", "source.sequence", { count: 1, rate: 5 })]),
      "vertex n: config.rate: unknown key; use count, ratePerSecond",
    );
    invalid(
      jobGraph(
        [src("a"), vertex("m", "map.fail", { afterRecords: 1, failAttempts: 0 }), sink("c")],
        [edge("a", "m"), edge("m", "c")],
      ),
      "vertex m: config.failAttempts: must be an integer ≥ 1",
    );
    invalid(
      jobGraph([src("a"), vertex("o", "sink.file", {})], [edge("a", "o")]),
      "vertex o: config.path: is required",
    );
    invalid(
      jobGraph([src("a"), vertex("o", "sink.file", { path: "out" })], [edge("a", "o")]),
      'vertex o: config.path: "out" is relative; use an absolute directory path or a file:// URI',
    );
    invalid(
      jobGraph([src("a"), vertex("o", "sink.file", { path: "s3://bucket/x" })], [edge("a", "o")]),
      'vertex o: config.path: "s3://bucket/x": only file:// URIs are supported',
    );
    invalid(
      jobGraph([src("a"), vertex("o", "sink.discard", { x: 1 })], [edge("a", "o")]),
      "vertex o: config.x: unknown key",
    );
    invalid(
      jobGraph([{ ...src("a"), configJson: "{count: 1}" }]),
      "vertex a: config: malformed JSON at line 1, column 2",
    );
  });

  it("accepts an empty config_json as {}", () => {
    validateJobGraph(jobGraph([src("a"), { ...sink("b"), configJson: "" }], [edge("a", "b")]));
  });

  it("checks edges: their ends and partitioning", () => {
    invalid(
      jobGraph([src("a")], [edge("a", "zz")]),
      'edge a -> zz: target "zz" is not a vertex of this graph',
    );
    invalid(jobGraph([src("a")], [edge("q", "a")]), 'edge q -> a: source "q" is not a vertex of this graph');
    invalid(
      jobGraph([src("a"), sink("b")], [edge("a", "b", "PARTITIONING_UNSPECIFIED")]),
      "edge a -> b: partitioning is not specified; use forward, rebalance, hash or broadcast",
    );
  });

  it("names a cycle", () => {
    invalid(
      jobGraph([src("s"), map("a"), map("b")], [edge("s", "a"), edge("a", "b"), edge("b", "a")]),
      "cycle a -> b -> a",
    );
    invalid(jobGraph([map("a")], [edge("a", "a")]), "cycle a -> a");
  });

  it("requires every chain to start with a source, and sources to have no inputs", () => {
    invalid(
      jobGraph([map("m"), sink("o")], [edge("m", "o")]),
      "vertex m: map.fail is not a source, so it needs an input; connect a source to it",
    );
    invalid(jobGraph([sink("o")]), "vertex o: sink.discard is not a source");
    invalid(
      jobGraph([src("a"), src("b")], [edge("a", "b")]),
      "vertex b: source.sequence is a source and cannot have inputs (edge a -> b)",
    );
    invalid(
      jobGraph([src("a"), sink("o"), sink("p")], [edge("a", "o"), edge("o", "p")]),
      "vertex o: sink.discard is a sink and cannot have outputs (edge o -> p)",
    );
  });

  it("allows data exchange: rebalance, broadcast, unions and splits, any parallelism", () => {
    validateJobGraph(jobGraph([src("a", 2), sink("b", 3)], [edge("a", "b", "PARTITIONING_REBALANCE")]));
    validateJobGraph(jobGraph([src("a"), sink("b", 4)], [edge("a", "b", "PARTITIONING_BROADCAST")]));
    validateJobGraph(jobGraph([src("a"), sink("b"), sink("c")], [edge("a", "b"), edge("a", "c")]));
    validateJobGraph(jobGraph([src("a"), src("b"), sink("c")], [edge("a", "c"), edge("b", "c")]));
  });

  it("keeps forward between equal parallelism and hash into keyed operators only", () => {
    invalid(
      jobGraph([src("a", 2), sink("b", 3)], [edge("a", "b")]),
      "edge a -> b: forward partitioning needs equal parallelism on both ends (a has 2, b has 3)",
    );
    invalid(
      jobGraph([src("a"), sink("b")], [edge("a", "b", "PARTITIONING_HASH")]),
      "edge a -> b: hash partitioning needs a keyed operator as its target (user.keyed-process, user.reduce, user.sum); b is sink.discard",
    );
    const withArtifact = { artifact: true };
    const sum = (id: string, parallelism = 1) => vertex(id, "user.sum", {}, parallelism);
    validateJobGraph(
      jobGraph(
        [src("a", 2), sum("k", 128), sink("o", 128)],
        [edge("a", "k", "PARTITIONING_HASH"), edge("k", "o")],
      ),
      withArtifact,
    );
    expect(() =>
      validateJobGraph(
        jobGraph(
          [src("a"), src("b"), sum("k")],
          [edge("a", "k", "PARTITIONING_HASH"), edge("b", "k", "PARTITIONING_REBALANCE")],
        ),
        withArtifact,
      ),
    ).toThrow(
      "edge b -> k: k is a keyed operator (user.sum), so every input must be hash-partitioned by its key (keyBy); this one is rebalance",
    );
    expect(() =>
      validateJobGraph(
        jobGraph([src("a"), sum("k", 129)], [edge("a", "k", "PARTITIONING_HASH")]),
        withArtifact,
      ),
    ).toThrow("vertex k: parallelism 129 exceeds the 128 key groups of a keyed operator; use 1 to 128");
  });

  it("requires the application artifact for user code", () => {
    const graph = jobGraph(
      [src("a"), vertex("m", "user.map", {}), sink("o")],
      [edge("a", "m"), edge("m", "o")],
    );
    invalid(graph, "vertex m is user code: submit it with vigil run");
    validateJobGraph(graph, { artifact: true });
    validateJobGraph({ ...graph, artifact: { uri: "file:///x/artifact", size: 1n, sha256: "00" } });
  });

  it("checks the job config", () => {
    invalid(
      {
        ...sequenceToDiscard(5),
        configJson: JSON.stringify({ restartStrategy: { type: "fixed-delay", delayMs: -5 } }),
      },
      "job config: restartStrategy.delayMs: must be a non-negative integer",
    );
  });

  it("refuses a graph whose encoding exceeds 1 MiB", () => {
    const big = "x".repeat(MAX_JOB_GRAPH_BYTES * 2);
    invalid({ ...sequenceToDiscard(5), name: big }, "JobGraph is 2.0 MiB; the limit is 1 MiB");
    validateJobGraph({ ...sequenceToDiscard(5), name: "x".repeat(MAX_JOB_GRAPH_BYTES - 200) });
  });
});

describe("planTasks", () => {
  it("chains forward-connected vertices of equal parallelism into one task", () => {
    const graph = jobGraph([src("a", 3), map("b", 3), sink("c", 3)], [edge("a", "b"), edge("b", "c")]);
    const plans = planTasks(graph);
    expect(
      plans.map((p) => ({ id: p.id, vertices: p.vertices.map((v) => v.id), parallelism: p.parallelism })),
    ).toEqual([{ id: "a", vertices: ["a", "b", "c"], parallelism: 3 }]);
  });

  it("plans independent pipelines in declaration order, whatever order their vertices are listed in", () => {
    const graph = jobGraph(
      [sink("out2", 2), sink("out1"), src("in1"), src("in2", 2), map("m2", 2)],
      [edge("in1", "out1"), edge("m2", "out2"), edge("in2", "m2")],
    );
    validateJobGraph(graph);
    expect(planTasks(graph).map((p) => [p.id, p.vertices.map((v) => v.id), p.parallelism])).toEqual([
      ["in1", ["in1", "out1"], 1],
      ["in2", ["in2", "m2", "out2"], 2],
    ]);
  });

  it("splits chains where data is exchanged, sources first, and links them by their edges", () => {
    const graph = jobGraph(
      [sink("sink", 2), map("m", 2), src("a", 1), src("b", 1), map("join", 2)],
      [
        edge("a", "join", "PARTITIONING_HASH"),
        edge("b", "join", "PARTITIONING_HASH"),
        edge("join", "m"),
        edge("m", "sink"),
      ],
    );
    expect(planTasks(graph).map((p) => [p.id, p.vertices.map((v) => v.id)])).toEqual([
      ["a", ["a"]],
      ["b", ["b"]],
      ["join", ["join", "m", "sink"]],
    ]);
    const [a, b, join] = planTasks(graph);
    const ends = (edges: readonly { edge: { source: string; target: string }; chain: string }[]) =>
      edges.map((e) => [e.edge.source, e.edge.target, e.chain]);
    expect(ends(a!.outputs)).toEqual([["a", "join", "join"]]);
    expect(ends(b!.inputs)).toEqual([]);
    expect(ends(join!.inputs)).toEqual([
      ["a", "join", "a"],
      ["b", "join", "b"],
    ]);
    expect(ends(join!.outputs)).toEqual([]);
  });

  it("cuts chains at unequal parallelism, non-forward edges and splits", () => {
    const graph = jobGraph(
      [src("s", 2), map("m", 2), map("r", 3), sink("o1", 3), sink("o2", 3)],
      [edge("s", "m"), edge("m", "r", "PARTITIONING_REBALANCE"), edge("r", "o1"), edge("r", "o2")],
    );
    validateJobGraph(graph);
    const plans = planTasks(graph);
    expect(plans.map((p) => [p.id, p.vertices.map((v) => v.id), p.parallelism])).toEqual([
      ["s", ["s", "m"], 2],
      ["r", ["r"], 3],
      ["o1", ["o1"], 3],
      ["o2", ["o2"], 3],
    ]);
    expect(plans[0]!.outputs.map((e) => [e.edge.source, e.chain])).toEqual([["m", "r"]]);
    expect(plans[1]!.inputs.map((e) => [e.edge.source, e.chain])).toEqual([["m", "s"]]);
    expect(plans[1]!.outputs.map((e) => e.chain)).toEqual(["o1", "o2"]);
  });
});
