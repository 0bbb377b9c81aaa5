// Builders of JobGraphs for tests (no test framework imports here, so other folders' tests can use them).
import type { JobEdge, JobGraph, JobVertex, Partitioning } from "../generated/records.ts";

export function vertex(
  id: string,
  operatorKind: string,
  config: Record<string, unknown> = {},
  parallelism = 1,
): JobVertex {
  return { id, name: id, operatorKind, parallelism, configJson: JSON.stringify(config) };
}

export function edge(
  source: string,
  target: string,
  partitioning: Partitioning = "PARTITIONING_FORWARD",
): JobEdge {
  return { source, target, partitioning };
}

export function jobGraph(
  vertices: JobVertex[],
  edges: JobEdge[] = [],
  configJson = "",
  jobId = "job-1",
): JobGraph {
  return { version: 1, jobId, name: jobId, vertices, edges, configJson };
}

/** numbers (source.sequence) → out (sink.discard), both of `parallelism`. */
export function sequenceToDiscard(count: number, parallelism = 1): JobGraph {
  return jobGraph(
    [
      vertex("numbers", "source.sequence", { count }, parallelism),
      vertex("out", "sink.discard", {}, parallelism),
    ],
    [edge("numbers", "out")],
  );
}
