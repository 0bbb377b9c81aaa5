// JobGraph validation (at submission, before anything is stored) and task planning (on the leader, when a
// job master starts). Validation reports the first problem as an InvalidArgumentError naming where it is: a
// vertex ("vertex out: …"), an edge ("edge a -> b: …"), a config key ("vertex out: config.path: …",
// "job config: restartStrategy.delayMs: …").
//
// Planning chains vertices as Flink does: a forward edge between vertices of equal parallelism, where the
// upstream vertex has no other output and the downstream one no other input, joins them into one task, so
// records pass between them by a function call. Every other edge is a data exchange between tasks: each plan
// lists the edges into its head (from the tail of another chain) and out of its tail.
import { ConfigError, InvalidArgumentError } from "../common/errors.ts";
import { codecs, type JobEdge, type JobGraph, type JobVertex } from "../generated/records.ts";
import { segment } from "../ha/keys.ts";
import { DEFAULT_MAX_PARALLELISM } from "../state/key-groups.ts";
import { GraphTopology } from "./graph-topology.ts";
import { parseJobConfig } from "./job-config.ts";
import { builtInStreamOperators, type StreamOperatorRegistry } from "./streaming/registry.ts";

/** Limit of the encoded JobGraph (codecs.JobGraph.encode): it must fit one etcd request / ZooKeeper znode. */
export const MAX_JOB_GRAPH_BYTES = 1_048_576;
export const MAX_PARALLELISM = 1024;
export const JOB_GRAPH_VERSION = 1;

/** An edge between two chains: a data exchange. */
export interface ChainEdge {
  readonly edge: JobEdge;
  /** The id of the chain at the other end: the producer's for an input, the consumer's for an output. */
  readonly chain: string;
}

export interface TaskChainPlan {
  /** The head vertex's id. */
  readonly id: string;
  /** Head first. */
  readonly vertices: readonly JobVertex[];
  readonly parallelism: number;
  /** Edges into the head from other chains' tails, in graph order (one input gate each). */
  readonly inputs: readonly ChainEdge[];
  /** Edges out of the tail into other chains' heads, in graph order (one result partition each). */
  readonly outputs: readonly ChainEdge[];
}

export interface ValidateOptions {
  /** Streaming operator kinds (default: the built-in ones). */
  readonly operators?: StreamOperatorRegistry;
  /** The submission carries the application artifact (graph.artifact is set from it before storing). */
  readonly artifact?: boolean;
}

/**
 * Kinds whose operator keeps keyed state: every input is hash-partitioned by their key selector. The streaming
 * registry does not say which kinds are keyed yet, so they are listed here.
 */
export const KEYED_KINDS: ReadonlySet<string> = new Set(["user.reduce", "user.sum", "user.keyed-process"]);

type Role = "source" | "operator" | "sink";

/** Sinks end a stream; the kind naming convention says which kinds are sinks ("sink.…"). */
function roleOf(kind: string, configured: "source" | "operator"): Role {
  if (configured === "source") return "source";
  return kind.startsWith("sink.") ? "sink" : "operator";
}

/** Throws InvalidArgumentError naming the first problem and where (vertex id / edge "a -> b" / JSON key). */
export function validateJobGraph(graph: JobGraph, options: ValidateOptions = {}): void {
  const operators = options.operators ?? builtInStreamOperators;
  if (graph.version !== JOB_GRAPH_VERSION) {
    fail(`JobGraph version ${graph.version} is not supported; this vigil reads version ${JOB_GRAPH_VERSION}`);
  }
  checkSegment(graph.jobId, "job id");
  if (graph.vertices.length === 0) fail("JobGraph has no vertices; a job needs at least one source");

  const hasArtifact = options.artifact === true || graph.artifact !== undefined;
  const roles = new Map<string, Role>();
  for (const v of graph.vertices) {
    checkSegment(v.id, "vertex id");
    const where = `vertex ${v.id}`;
    if (roles.has(v.id)) fail(`${where}: id is used by more than one vertex; vertex ids must be unique`);
    if (!Number.isInteger(v.parallelism) || v.parallelism < 1 || v.parallelism > MAX_PARALLELISM) {
      checkKind(v, operators, where);
      fail(`${where}: parallelism ${v.parallelism} is invalid; use 1 to ${MAX_PARALLELISM}`);
    }
    roles.set(v.id, checkKind(v, operators, where));
    if (v.operatorKind.startsWith("user.") && !hasArtifact) {
      fail(`vertex ${v.id} is user code: submit it with vigil run (the application artifact is missing)`);
    }
    if (KEYED_KINDS.has(v.operatorKind) && v.parallelism > DEFAULT_MAX_PARALLELISM) {
      fail(
        `${where}: parallelism ${v.parallelism} exceeds the ${DEFAULT_MAX_PARALLELISM} key groups of a keyed operator; use 1 to ${DEFAULT_MAX_PARALLELISM}`,
      );
    }
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
  checkExchanges(graph, topology);
  parseJobConfig(graph.configJson, "job config");
  checkSize(graph);
}

/**
 * Chains of forward-connected, equal-parallelism vertices, sources first (topological), each with its input
 * and output edges. Valid graphs only.
 */
export function planTasks(graph: JobGraph): TaskChainPlan[] {
  const topology = new GraphTopology(graph);
  const chained = (e: JobEdge): boolean =>
    e.partitioning === "PARTITIONING_FORWARD" &&
    topology.vertex(e.source).parallelism === topology.vertex(e.target).parallelism &&
    topology.outputs(e.source).length === 1 &&
    topology.inputs(e.target).length === 1;

  const chains: { id: string; vertices: JobVertex[] }[] = [];
  const chainOf = new Map<string, string>();
  for (const head of topology.topologicalOrder()) {
    const inputs = topology.inputs(head.id);
    if (inputs.length === 1 && chained(inputs[0]!)) continue;
    const vertices = [head];
    for (;;) {
      const outputs = topology.outputs(vertices[vertices.length - 1]!.id);
      if (outputs.length !== 1 || !chained(outputs[0]!)) break;
      vertices.push(topology.vertex(outputs[0]!.target));
    }
    for (const v of vertices) chainOf.set(v.id, head.id);
    chains.push({ id: head.id, vertices });
  }
  return chains.map(({ id, vertices }) => ({
    id,
    vertices,
    parallelism: vertices[0]!.parallelism,
    inputs: topology.inputs(id).map((edge) => ({ edge, chain: chainOf.get(edge.source)! })),
    outputs: topology
      .outputs(vertices[vertices.length - 1]!.id)
      .filter((edge) => !chained(edge))
      .map((edge) => ({ edge, chain: chainOf.get(edge.target)! })),
  }));
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

/** Validates the vertex's kind and config against the operator registry; its role. */
function checkKind(v: JobVertex, operators: StreamOperatorRegistry, where: string): Role {
  return roleOf(v.operatorKind, operators.configure(v, where).role);
}

// Sources start every stream; everything else needs an input; sinks end a stream.
function checkRole(v: JobVertex, role: Role, topology: GraphTopology): void {
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

// Forward keeps subtask i → i, so it needs equal parallelism (as in Flink); hash partitioning routes by the
// keyed operator's key selector, so it goes exactly into keyed operators, and they take nothing else.
function checkExchanges(graph: JobGraph, topology: GraphTopology): void {
  for (const e of graph.edges) {
    const source = topology.vertex(e.source);
    const target = topology.vertex(e.target);
    const keyed = KEYED_KINDS.has(target.operatorKind);
    if (e.partitioning === "PARTITIONING_FORWARD" && source.parallelism !== target.parallelism) {
      fail(
        `${edgeName(e)}: forward partitioning needs equal parallelism on both ends (${source.id} has ${source.parallelism}, ${target.id} has ${target.parallelism}); give both the same parallelism or use rebalance`,
      );
    }
    if (e.partitioning === "PARTITIONING_HASH" && !keyed) {
      fail(
        `${edgeName(e)}: hash partitioning needs a keyed operator as its target (${KEYED_KINDS_LIST}); ${target.id} is ${target.operatorKind}`,
      );
    }
    if (keyed && e.partitioning !== "PARTITIONING_HASH") {
      fail(
        `${edgeName(e)}: ${target.id} is a keyed operator (${target.operatorKind}), so every input must be hash-partitioned by its key (keyBy); this one is ${partitioningName(e.partitioning)}`,
      );
    }
  }
}

const KEYED_KINDS_LIST = [...KEYED_KINDS].sort().join(", ");

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
