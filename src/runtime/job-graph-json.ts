// The JobGraph file format: what `vigil submit FILE` reads.
//
//   {
//     "jobId": "optional-stable-id",
//     "name": "sample",
//     "config": { "restartStrategy": { "type": "fixed-delay", "attempts": 3, "delayMs": 1000 } },
//     "vertices": [
//       { "id": "numbers", "name": "numbers", "operator": "source.sequence", "parallelism": 2,
//         "config": { "count": 1000, "ratePerSecond": 100 } },
//       { "id": "out", "operator": "sink.file", "parallelism": 2, "config": { "path": "/tmp/out" } }
//     ],
//     "edges": [ { "source": "numbers", "target": "out", "partitioning": "forward" } ]
//   }
//
// Top level:
//   jobId        optional; 1-128 letters, digits, '.', '_' or '-'. Without it the id is derived from the
//                graph's content (deriveJobId), so submitting the same file twice is the same job.
//   name         optional; defaults to the jobId, or "job" when the id is derived.
//   version      optional; 1 (the only version).
//   config       optional job config (see job-config.ts): the restart strategy.
//   vertices     required, at least one.
//   edges        optional.
// A vertex:
//   id           required; unique; same characters as jobId.
//   name         optional; defaults to the id.
//   operator     required; one of the built-in kinds:
//                  source.sequence { count: integer ≥ 0 (0 = unbounded), ratePerSecond?: number > 0 }
//                  map.fail        { afterRecords: integer ≥ 0, failAttempts?: integer ≥ 1 }  (test aid)
//                  sink.file       { path: absolute directory or file:// URI }
//                  sink.discard    {}
//   parallelism  optional integer 1..1024; default 1.
//   config       optional object, per operator kind.
// An edge:
//   source, target   vertex ids.
//   partitioning     required: forward | rebalance | hash | broadcast. This version runs forward edges
//                    between vertices of equal parallelism only, each vertex with at most one input and one
//                    output (data exchange between tasks comes next).
//
// Unknown keys are refused, naming their path. Every error starts with the file's name and says where:
// "job.json: vertices[1].parallelism: must be an integer ≥ 1", or for malformed JSON
// "job.json: malformed JSON at line 3, column 14: …". Configs are stored as canonical JSON (sorted keys), so
// reformatting a file changes neither the graph nor its derived id.
import { createHash } from "node:crypto";
import { InvalidArgumentError } from "../common/errors.ts";
import {
  codecs,
  type JobEdge,
  type JobGraph,
  type JobVertex,
  type Partitioning,
} from "../generated/records.ts";
import { ConfigReader, isPlainObject } from "./config-reader.ts";
import { readJobConfig } from "./job-config.ts";
import { checkSegment, JOB_GRAPH_VERSION, MAX_PARALLELISM, validateJobGraph } from "./job-graph.ts";
import { parseJsonText } from "./json-text.ts";
import { builtInStreamOperators, type StreamOperatorRegistry } from "./streaming/registry.ts";

const PARTITIONINGS = ["forward", "rebalance", "hash", "broadcast"] as const;

/** Parses and validates; errors name the file and the JSON path. Malformed JSON → file name and position. */
export function parseJobGraphJson(
  text: string,
  source: string,
  operators: StreamOperatorRegistry = builtInStreamOperators,
): JobGraph {
  const root: ConfigReader = ConfigReader.of(parseJsonText(text, source), source, "");
  root.expectKeys(["jobId", "name", "version", "config", "vertices", "edges"]);
  const version = root.optionalInteger("version", { min: 1 });
  if (version !== undefined && version !== JOB_GRAPH_VERSION) {
    root.fail("version", `${version} is not supported; use ${JOB_GRAPH_VERSION}`);
  }
  const jobId = root.optionalString("jobId");
  if (jobId !== undefined) segmentAt(root, "jobId", jobId);
  const name = root.optionalString("name");
  const config = root.optionalObject("config");
  if (config) readJobConfig(config);

  const listed = root.optionalArray("vertices");
  if (listed === undefined || listed.items.length === 0) {
    root.fail("vertices", "must list at least one vertex; a job needs at least one source");
  }
  const vertices: JobVertex[] = [];
  const index = new Map<string, number>();
  listed.items.forEach((item, i) => {
    const vertex = readVertex(ConfigReader.of(item, source, `${listed.path}[${i}]`), index, operators);
    index.set(vertex.id, i);
    vertices.push(vertex);
  });

  const edges: JobEdge[] = [];
  const edgeList = root.optionalArray("edges");
  edgeList?.items.forEach((item, i) => {
    edges.push(readEdge(ConfigReader.of(item, source, `${edgeList.path}[${i}]`), index));
  });

  const graph: JobGraph = {
    version: JOB_GRAPH_VERSION,
    jobId: jobId ?? "",
    name: name ?? jobId ?? "job",
    vertices,
    edges,
    configJson: config ? canonicalConfig(root.raw("config")) : "",
  };
  if (jobId === undefined) graph.jobId = deriveJobId(graph);
  try {
    validateJobGraph(graph, { operators });
  } catch (e: unknown) {
    if (e instanceof InvalidArgumentError) throw new InvalidArgumentError(`${source}: ${e.message}`);
    throw e;
  }
  return graph;
}

/** Stable id from the graph's content, jobId excluded: hex of SHA-256 of its protobuf encoding, 32 chars. */
export function deriveJobId(graph: JobGraph): string {
  const bytes = codecs.JobGraph.encode({ ...graph, jobId: "" });
  return createHash("sha256").update(bytes).digest("hex").slice(0, 32);
}

function readVertex(
  r: ConfigReader,
  index: ReadonlyMap<string, number>,
  operators: StreamOperatorRegistry,
): JobVertex {
  r.expectKeys(["id", "name", "operator", "parallelism", "config"]);
  const id = r.string("id");
  segmentAt(r, "id", id);
  const first = index.get(id);
  if (first !== undefined) r.fail("id", `${JSON.stringify(id)} is already the id of vertices[${first}]`);
  const name = r.optionalString("name") ?? id;
  const kind = r.string("operator");
  const definition = operators.get(kind);
  if (definition === undefined) {
    r.fail("operator", `${JSON.stringify(kind)} is unknown; known kinds: ${operators.kinds().join(", ")}`);
  }
  const parallelism = r.optionalInteger("parallelism", { min: 1, max: MAX_PARALLELISM }) ?? 1;
  const config = r.raw("config") ?? {};
  const reader = ConfigReader.of(config, r.where, r.pathOf("config"));
  definition.configure(reader);
  reader.finish();
  return { id, name, operatorKind: kind, parallelism, configJson: canonicalConfig(config) };
}

function readEdge(r: ConfigReader, index: ReadonlyMap<string, number>): JobEdge {
  r.expectKeys(["source", "target", "partitioning"]);
  const ends = (["source", "target"] as const).map((key) => {
    const id = r.string(key);
    if (!index.has(id)) r.fail(key, `${JSON.stringify(id)} is not the id of any vertex`);
    return id;
  });
  const partitioning = r.choice("partitioning", PARTITIONINGS);
  return {
    source: ends[0]!,
    target: ends[1]!,
    partitioning: `PARTITIONING_${partitioning.toUpperCase()}` as Partitioning,
  };
}

function segmentAt(r: ConfigReader, key: string, value: string): void {
  try {
    checkSegment(value, key);
  } catch {
    r.fail(key, `${JSON.stringify(value)} is invalid; use 1-128 letters, digits, '.', '_' or '-'`);
  }
}

/** "" for an empty object; otherwise JSON with sorted keys at every level. */
function canonicalConfig(value: unknown): string {
  if (isPlainObject(value) && Object.keys(value).length === 0) return "";
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isPlainObject(value)) return value;
  const out = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(value).sort()) out[key] = sortKeys(value[key]);
  return out;
}
