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
      'vertex a: operator kind "source.kafka" is unknown; known kinds: map.fail, sink.discard, sink.file, source.sequence',
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

  it("says clearly that data exchange between tasks is not supported yet", () => {
    invalid(
      jobGraph([src("a"), sink("b")], [edge("a", "b", "PARTITIONING_HASH")]),
      "edge a -> b: hash partitioning needs data exchange between tasks, which this version does not support yet; connect vertices of equal parallelism with forward edges",
    );
    invalid(
      jobGraph([src("a", 2), sink("b", 2)], [edge("a", "b", "PARTITIONING_REBALANCE")]),
      "edge a -> b: rebalance partitioning needs data exchange",
    );
    invalid(
      jobGraph([src("a", 2), sink("b", 3)], [edge("a", "b")]),
      "edge a -> b: forward partitioning needs equal parallelism on both ends (a has 2, b has 3)",
    );
    invalid(
      jobGraph([src("a"), sink("b"), sink("c")], [edge("a", "b"), edge("a", "c")]),
      "vertex a has 2 outputs (b, c); splitting a stream needs data exchange between tasks, which this version does not support yet",
    );
    invalid(
      jobGraph([src("a"), src("b"), sink("c")], [edge("a", "c"), edge("b", "c")]),
      "vertex c has 2 inputs (a, b); joining streams needs data exchange between tasks",
    );
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

  it("splits chains where data would be exchanged, sources first (for the streaming runtime)", () => {
    // Not valid yet (validation refuses exchanges), but planning already cuts chains at them.
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
  });
});
