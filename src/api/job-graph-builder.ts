// A captured pipeline → the JobGraph of proto/ plus the application's functions by id: a vertex's function
// under the vertex id, a keyed vertex's key selector under keySelectorId(vertex id), so configs carry only
// parameters. Each operator is a vertex whose id is its uid; keyBy and union become the partitioning of the
// edges into the operator that consumes them: hash behind keyBy, else forward between equal parallelism (the runtime chains those into one
// task when nothing else joins or splits them), else rebalance. Union's inputs follow the same rule, as in
// Flink; a vertex with several inputs is never chained with them.
//
// The checks here are the ones only the API can word well (two operators given one uid, a keyed operator
// wider than the key groups); the runtime's validateJobGraph checks everything else at submission.
import type { JobEdge, JobGraph, JobVertex, Partitioning } from "../generated/records.ts";
import { JOB_GRAPH_VERSION } from "../runtime/job-graph.ts";
import { deriveJobId } from "../runtime/job-graph-json.ts";
import { ApplicationError } from "./errors.ts";
import { type FunctionTable, keySelectorId, type RegisteredFunction } from "./functions.ts";
import type { Pipeline, Transformation } from "./pipeline.ts";

/** Key groups of a keyed operator (design4 §Model: maxParallelism 128); it cannot use more subtasks. */
export const KEY_GROUPS = 128;

export interface BuildOptions {
  /** Parallelism of operators that set none when the environment sets none either. */
  readonly defaultParallelism: number;
  readonly jobName: string;
  /** Otherwise derived from the graph's content (deriveJobId), so the same application and args → same id. */
  readonly jobId?: string | undefined;
}

export interface CompiledPipeline {
  readonly graph: JobGraph;
  readonly functions: FunctionTable;
}

export function buildJobGraph(pipeline: Pipeline, options: BuildOptions): CompiledPipeline {
  const operators = pipeline.transformations;
  if (operators.length === 0) {
    fail("main called execute() before adding any operator; build a pipeline from a source first");
  }
  checkUniqueUids(operators);
  const parallelism = (t: Transformation): number =>
    t.parallelism ?? pipeline.parallelism ?? options.defaultParallelism;

  const vertices: JobVertex[] = [];
  const edges: JobEdge[] = [];
  const functions = new Map<string, RegisteredFunction>();
  for (const t of operators) {
    const keySelector = t.spec.inputs[0]?.keySelector;
    if (keySelector !== undefined) {
      if (parallelism(t) > KEY_GROUPS) {
        t.fail(`parallelism ${parallelism(t)} exceeds the ${KEY_GROUPS} key groups of a keyed operator`);
      }
      functions.set(keySelectorId(t.uid), keySelector);
    }
    if (t.spec.fn !== undefined) functions.set(t.uid, t.spec.fn);
    vertices.push({
      id: t.uid,
      name: t.name ?? t.uid,
      operatorKind: t.spec.kind,
      parallelism: parallelism(t),
      configJson: canonicalJson(t.spec.config),
    });
    for (const input of t.spec.inputs) {
      edges.push({
        source: input.producer.uid,
        target: t.uid,
        partitioning: partitioning(
          input.keySelector !== undefined,
          parallelism(input.producer),
          parallelism(t),
        ),
      });
    }
  }

  const jobConfig: Record<string, unknown> = {
    restartStrategy: pipeline.restartStrategy,
    checkpointing: pipeline.checkpointing,
  };
  const graph: JobGraph = {
    version: JOB_GRAPH_VERSION,
    jobId: "",
    name: options.jobName,
    vertices,
    edges,
    configJson: canonicalJson(jobConfig),
  };
  graph.jobId = options.jobId ?? deriveJobId(graph);
  return { graph, functions };
}

function partitioning(keyed: boolean, upstream: number, downstream: number): Partitioning {
  if (keyed) return "PARTITIONING_HASH";
  return upstream === downstream ? "PARTITIONING_FORWARD" : "PARTITIONING_REBALANCE";
}

function checkUniqueUids(operators: readonly Transformation[]): void {
  const byUid = new Map<string, Transformation>();
  for (const t of operators) {
    const first = byUid.get(t.uid);
    if (first !== undefined) {
      fail(
        `${first.describe()} and ${t.describe()} have the same uid; give each operator a unique uid with .uid(…)`,
      );
    }
    byUid.set(t.uid, t);
  }
}

/** JSON with sorted keys at every level and undefined values left out; "" for an empty object. */
export function canonicalJson(value: Readonly<Record<string, unknown>>): string {
  const text = JSON.stringify(sortKeys(value));
  return text === "{}" ? "" : text;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = sortKeys(v);
  }
  return out;
}

function fail(message: string): never {
  throw new ApplicationError(message);
}
