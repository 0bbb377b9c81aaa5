// JobGraph validation (at submission, before anything is stored) and task planning (on the leader, when a
// job master starts). Validation reports the first problem as an InvalidArgumentError naming where it is: a
// vertex ("vertex out: …"), an edge ("edge a -> b: …"), a config key ("vertex out: config.path: …",
// "job config: restartStrategy.delayMs: …").
//
// Planning chains vertices as Flink does: a forward edge between vertices of equal parallelism, where the
// upstream vertex has no other output and the downstream one no other input, joins them into one task, so
// records pass between them by a function call. Until data exchange between tasks exists (next issue), every
// valid graph is a set of such chains; the rules that say "not supported yet" go away then, planTasks stays.
import { ConfigError, InvalidArgumentError } from "../common/errors.ts";
import { codecs, type JobEdge, type JobGraph, type JobVertex } from "../generated/records.ts";
import { segment } from "../ha/keys.ts";
import { GraphTopology } from "./graph-topology.ts";
import { parseJobConfig } from "./job-config.ts";
import type { OperatorRole } from "./operators/operator.ts";
import { builtInOperators, type OperatorRegistry } from "./operators/registry.ts";

/** Limit of the encoded JobGraph (codecs.JobGraph.encode): it must fit one etcd request / ZooKeeper znode. */
export const MAX_JOB_GRAPH_BYTES = 1_048_576;
export const MAX_PARALLELISM = 1024;
export const JOB_GRAPH_VERSION = 1;

export interface TaskChainPlan {
  /** The head vertex's id. */
  readonly id: string;
  /** Head first. */
  readonly vertices: readonly JobVertex[];
  readonly parallelism: number;
}

/** Throws InvalidArgumentError naming the first problem and where (vertex id / edge "a -> b" / JSON key). */
export function validateJobGraph(graph: JobGraph, operators: OperatorRegistry = builtInOperators): void {
  if (graph.version !== JOB_GRAPH_VERSION) {
    fail(`JobGraph version ${graph.version} is not supported; this vigil reads version ${JOB_GRAPH_VERSION}`);
  }
  checkSegment(graph.jobId, "job id");
  if (graph.vertices.length === 0) fail("JobGraph has no vertices; a job needs at least one source");

  const roles = new Map<string, OperatorRole>();
  for (const v of graph.vertices) {
    checkSegment(v.id, "vertex id");
    const where = `vertex ${v.id}`;
    if (roles.has(v.id)) fail(`${where}: id is used by more than one vertex; vertex ids must be unique`);
    operators.definition(v.operatorKind, where);
    if (!Number.isInteger(v.parallelism) || v.parallelism < 1 || v.parallelism > MAX_PARALLELISM) {
      fail(`${where}: parallelism ${v.parallelism} is invalid; use 1 to ${MAX_PARALLELISM}`);
    }
    roles.set(v.id, operators.configure(v, where).role);
  }

  for (const e of graph.edges) {
    const where = edgeName(e);
    if (!roles.has(e.source))
      fail(`${where}: source ${JSON.stringify(e.source)} is not a vertex of this graph`);
    if (!roles.has(e.target))
      fail(`${where}: target ${JSON.stringify(e.target)} is not a vertex of this graph`);
    if (!PARTITIONINGS.has(e.partitioning)) {
      const what =
        e.partitioning === "PARTITIONING_UNSPECIFIED"
          ? "partitioning is not specified"
          : `partitioning ${JSON.stringify(e.partitioning)} is unknown`;
      fail(`${where}: ${what}; use forward, rebalance, hash or broadcast`);
    }
  }

  const topology = new GraphTopology(graph);
  const cycle = topology.findCycle();
  if (cycle) fail(`cycle ${cycle.join(" -> ")}: a JobGraph must not have cycles`);

  for (const v of graph.vertices) checkRole(v, roles.get(v.id)!, topology);
  checkNoDataExchange(graph, topology);
  parseJobConfig(graph.configJson, "job config");
  checkSize(graph);
}

/** Chains of forward-connected, equal-parallelism vertices, sources first (topological). Valid graphs only. */
export function planTasks(graph: JobGraph): TaskChainPlan[] {
  const topology = new GraphTopology(graph);
  const chained = (e: JobEdge): boolean =>
    e.partitioning === "PARTITIONING_FORWARD" &&
    topology.vertex(e.source).parallelism === topology.vertex(e.target).parallelism &&
    topology.outputs(e.source).length === 1 &&
    topology.inputs(e.target).length === 1;

  const plans: TaskChainPlan[] = [];
  for (const head of topology.topologicalOrder()) {
    const inputs = topology.inputs(head.id);
    if (inputs.length === 1 && chained(inputs[0]!)) continue;
    const vertices = [head];
    for (;;) {
      const outputs = topology.outputs(vertices[vertices.length - 1]!.id);
      if (outputs.length !== 1 || !chained(outputs[0]!)) break;
      vertices.push(topology.vertex(outputs[0]!.target));
    }
    plans.push({ id: head.id, vertices, parallelism: head.parallelism });
  }
  return plans;
}

/** "forward", "hash", … for an edge's partitioning. */
export function partitioningName(p: JobEdge["partitioning"]): string {
  return p.replace(/^PARTITIONING_/, "").toLowerCase();
}

const PARTITIONINGS: ReadonlySet<string> = new Set([
  "PARTITIONING_FORWARD",
  "PARTITIONING_REBALANCE",
  "PARTITIONING_HASH",
  "PARTITIONING_BROADCAST",
]);

function edgeName(e: JobEdge): string {
  return `edge ${e.source} -> ${e.target}`;
}

// Sources start every chain; everything else needs an input; sinks end a stream.
function checkRole(v: JobVertex, role: OperatorRole, topology: GraphTopology): void {
  const where = `vertex ${v.id}`;
  const [input] = topology.inputs(v.id);
  const [output] = topology.outputs(v.id);
  if (role === "source" && input) {
    fail(`${where}: ${v.operatorKind} is a source and cannot have inputs (${edgeName(input)})`);
  }
  if (role !== "source" && !input) {
    fail(`${where}: ${v.operatorKind} is not a source, so it needs an input; connect a source to it`);
  }
  if (role === "sink" && output) {
    fail(`${where}: ${v.operatorKind} is a sink and cannot have outputs (${edgeName(output)})`);
  }
}

const NOT_YET = "needs data exchange between tasks, which this version does not support yet";

function checkNoDataExchange(graph: JobGraph, topology: GraphTopology): void {
  for (const e of graph.edges) {
    const source = topology.vertex(e.source);
    const target = topology.vertex(e.target);
    if (e.partitioning !== "PARTITIONING_FORWARD") {
      fail(
        `${edgeName(e)}: ${partitioningName(e.partitioning)} partitioning ${NOT_YET}; connect vertices of equal parallelism with forward edges`,
      );
    }
    if (source.parallelism !== target.parallelism) {
      // Forward never changes parallelism, with or without data exchange (as in Flink).
      fail(
        `${edgeName(e)}: forward partitioning needs equal parallelism on both ends (${source.id} has ${source.parallelism}, ${target.id} has ${target.parallelism}); give both the same parallelism`,
      );
    }
  }
  for (const v of graph.vertices) {
    const inputs = topology.inputs(v.id);
    const outputs = topology.outputs(v.id);
    if (inputs.length > 1) {
      const from = inputs.map((e) => e.source).join(", ");
      fail(
        `vertex ${v.id} has ${inputs.length} inputs (${from}); joining streams ${NOT_YET}; give each vertex at most one input`,
      );
    }
    if (outputs.length > 1) {
      const to = outputs.map((e) => e.target).join(", ");
      fail(
        `vertex ${v.id} has ${outputs.length} outputs (${to}); splitting a stream ${NOT_YET}; give each vertex at most one output`,
      );
    }
  }
}

function checkSize(graph: JobGraph): void {
  let size: number;
  try {
    size = codecs.JobGraph.encode(graph).byteLength;
  } catch (e: unknown) {
    fail(`JobGraph cannot be encoded: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (size > MAX_JOB_GRAPH_BYTES) {
    const mib = (size / 1_048_576).toFixed(1);
    const shown = mib === "1.0" ? `${size} bytes` : `${mib} MiB`;
    fail(
      `JobGraph is ${shown}; the limit is 1 MiB (${MAX_JOB_GRAPH_BYTES} bytes); keep bulky data out of operator configs (file storage)`,
    );
  }
}

/** segment() from the key layout, as an InvalidArgumentError (a bad request, not a bad process config). */
export function checkSegment(value: string, what: string): void {
  try {
    segment(value, what);
  } catch (e: unknown) {
    if (e instanceof ConfigError) throw new InvalidArgumentError(e.message);
    throw e;
  }
}

function fail(message: string): never {
  throw new InvalidArgumentError(message);
}
