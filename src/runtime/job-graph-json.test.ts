import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../common/errors.ts";
import { deriveJobId, parseJobGraphJson } from "./job-graph-json.ts";

const SAMPLE = {
  jobId: "sample-1",
  name: "sample",
  config: { restartStrategy: { type: "fixed-delay", attempts: 3, delayMs: 1000 } },
  vertices: [
    {
      id: "numbers",
      name: "numbers",
      operator: "source.sequence",
      parallelism: 2,
      config: { count: 1000, ratePerSecond: 100 },
    },
    { id: "out", operator: "sink.file", parallelism: 2, config: { path: "/tmp/out" } },
  ],
  edges: [{ source: "numbers", target: "out", partitioning: "forward" }],
};

const parse = (doc: unknown): ReturnType<typeof parseJobGraphJson> =>
  parseJobGraphJson(JSON.stringify(doc, null, 2), "job.json");

function invalid(doc: unknown, message: string): void {
  expect(() => parse(doc)).toThrow(InvalidArgumentError);
  expect(() => parse(doc)).toThrow(message);
}

describe("parseJobGraphJson", () => {
  it("reads the documented sample", () => {
    expect(parse(SAMPLE)).toEqual({
      version: 1,
      jobId: "sample-1",
      name: "sample",
      configJson: '{"restartStrategy":{"attempts":3,"delayMs":1000,"type":"fixed-delay"}}',
      vertices: [
        {
          id: "numbers",
          name: "numbers",
          operatorKind: "source.sequence",
          parallelism: 2,
          configJson: '{"count":1000,"ratePerSecond":100}',
        },
        {
          id: "out",
          name: "out",
          operatorKind: "sink.file",
          parallelism: 2,
          configJson: '{"path":"/tmp/out"}',
        },
      ],
      edges: [{ source: "numbers", target: "out", partitioning: "PARTITIONING_FORWARD" }],
    });
  });

  it("applies defaults: parallelism 1, empty configs, name", () => {
    const g = parse({
      jobId: "j",
      vertices: [
        { id: "s", operator: "source.sequence", config: { count: 3 } },
        { id: "d", operator: "sink.discard" },
      ],
      edges: [{ source: "s", target: "d", partitioning: "forward" }],
    });
    expect(g.name).toBe("j");
    expect(g.configJson).toBe("");
    expect(g.vertices[1]).toEqual({
      id: "d",
      name: "d",
      operatorKind: "sink.discard",
      parallelism: 1,
      configJson: "",
    });
  });

  it("derives a stable job id from the content when the file has none", () => {
    const { jobId: _, ...anonymous } = SAMPLE;
    const a = parse(anonymous);
    expect(a.jobId).toMatch(/^[0-9a-f]{32}$/);
    expect(a.jobId).toBe(deriveJobId(a));
    // Formatting and key order do not matter; content does.
    const reordered = {
      edges: anonymous.edges,
      vertices: anonymous.vertices,
      config: anonymous.config,
      name: "sample",
    };
    expect(parseJobGraphJson(JSON.stringify(reordered), "other.json").jobId).toBe(a.jobId);
    expect(parse({ ...anonymous, name: "other" }).jobId).not.toBe(a.jobId);
  });

  it("reports malformed JSON with the file name and position", () => {
    expect(() => parseJobGraphJson('{\n  "jobId": "x",\n  "vertices": [}\n', "job.json")).toThrow(
      'job.json: malformed JSON at line 3, column 16: unexpected "}"; expected a value',
    );
  });

  it.each([
    [[], "job.json: must be a JSON object"],
    [
      { ...SAMPLE, vertex: [] },
      "job.json: vertex: unknown key; use jobId, name, version, config, vertices, edges",
    ],
    [{ ...SAMPLE, version: 2 }, "job.json: version: 2 is not supported; use 1"],
    [{ ...SAMPLE, jobId: "a b" }, 'job.json: jobId: "a b" is invalid; use 1-128 letters'],
    [{ ...SAMPLE, vertices: [] }, "job.json: vertices: must list at least one vertex"],
    [{ ...SAMPLE, vertices: {} }, "job.json: vertices: must be an array"],
    [
      { ...SAMPLE, config: { restartStrategy: { type: "fixed-delay", delayMs: -1 } } },
      "job.json: config.restartStrategy.delayMs: must be a non-negative integer",
    ],
    [
      { ...SAMPLE, edges: [{ source: "numbers", target: "out" }] },
      "job.json: edges[0].partitioning: is required; use one of forward, rebalance, hash, broadcast",
    ],
    [
      { ...SAMPLE, edges: [{ source: "numbers", target: "nope", partitioning: "forward" }] },
      'job.json: edges[0].target: "nope" is not the id of any vertex',
    ],
    [
      { ...SAMPLE, edges: [{ source: "numbers", target: "out", partitioning: "shuffle" }] },
      'job.json: edges[0].partitioning: "shuffle" is not one of forward, rebalance, hash, broadcast',
    ],
    [
      { ...SAMPLE, edges: [{ source: "numbers", target: "out", partitioning: "hash" }] },
      "job.json: edge numbers -> out: hash partitioning needs a keyed operator as its target",
    ],
  ])("refuses %j", (doc, message) => invalid(doc, message));

  it("names the path of a bad vertex field", () => {
    const withVertex = (v: Record<string, unknown>) => ({
      ...SAMPLE,
      vertices: [SAMPLE.vertices[0], { ...SAMPLE.vertices[1], ...v }],
    });
    invalid(withVertex({ parallelism: 0 }), "job.json: vertices[1].parallelism: must be an integer ≥ 1");
    invalid(withVertex({ parallelism: 2.5 }), "job.json: vertices[1].parallelism: must be an integer ≥ 1");
    invalid(withVertex({ parallelism: 4096 }), "job.json: vertices[1].parallelism: must be at most 1024");
    invalid(
      withVertex({ id: "numbers" }),
      'job.json: vertices[1].id: "numbers" is already the id of vertices[0]',
    );
    invalid(
      withVertex({ operator: "sink.s3" }),
      'job.json: vertices[1].operator: "sink.s3" is unknown; known kinds: map.fail, sink.discard, sink.exactly-once-file, sink.file, sink.print, source.files, source.sequence, user.filter, user.flat-map, user.keyed-process, user.map, user.reduce, user.sum',
    );
    invalid(
      withVertex({ config: { path: 7 } }),
      "job.json: vertices[1].config.path: must be a non-empty string",
    );
    invalid(
      withVertex({ config: { path: "/x", mode: "append" } }),
      "job.json: vertices[1].config.mode: unknown key; use path",
    );
    invalid(withVertex({ config: [] }), "job.json: vertices[1].config: must be a JSON object");
    invalid(
      withVertex({ paralelism: 2 }),
      "job.json: vertices[1].paralelism: unknown key; use id, name, operator, parallelism, config",
    );
    invalid(
      { ...SAMPLE, vertices: [{ id: "s", operator: "source.sequence" }] },
      "job.json: vertices[0].config.count: is required",
    );
  });

  it("prefixes graph-level problems with the file name", () => {
    invalid(
      {
        jobId: "j",
        vertices: [
          { id: "s", operator: "source.sequence", config: { count: 1 } },
          { id: "d", operator: "sink.discard", parallelism: 2 },
        ],
        edges: [{ source: "s", target: "d", partitioning: "forward" }],
      },
      "job.json: edge s -> d: forward partitioning needs equal parallelism on both ends (s has 1, d has 2)",
    );
  });
});
