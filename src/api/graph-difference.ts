// How a rebuilt JobGraph differs from the submitted one, in words. Job id and artifact are not compared (the
// client assigns them after compiling); order of vertices and edges is not either (it carries no meaning).
import type { JobEdge, JobGraph, JobVertex } from "../generated/records.ts";
import { partitioningName } from "../runtime/job-graph.ts";

const SHOWN = 3;

/** Up to three differences, "; "-separated, in terms of "here" (rebuilt) vs "submitted"; undefined if equal. */
export function describeGraphDifference(submitted: JobGraph, rebuilt: JobGraph): string | undefined {
  const found: string[] = [];
  if (submitted.name !== rebuilt.name) {
    found.push(
      `the job is named ${quote(rebuilt.name)} here but ${quote(submitted.name)} in the submitted JobGraph`,
    );
  }
  if (submitted.version !== rebuilt.version) {
    found.push(`JobGraph version ${rebuilt.version} here but ${submitted.version} submitted`);
  }

  const theirs = new Map(submitted.vertices.map((v) => [v.id, v]));
  const ours = new Map(rebuilt.vertices.map((v) => [v.id, v]));
  for (const v of submitted.vertices) {
    const mine = ours.get(v.id);
    if (mine === undefined)
      found.push(`vertex ${v.id} (${v.operatorKind}) of the submitted JobGraph is missing here`);
    else found.push(...vertexDifferences(v, mine));
  }
  for (const v of rebuilt.vertices) {
    if (!theirs.has(v.id)) found.push(`vertex ${v.id} (${v.operatorKind}) is not in the submitted JobGraph`);
  }

  const theirEdges = new Set(submitted.edges.map(edgeText));
  const ourEdges = new Set(rebuilt.edges.map(edgeText));
  for (const e of theirEdges)
    if (!ourEdges.has(e)) found.push(`edge ${e} of the submitted JobGraph is missing here`);
  for (const e of ourEdges) if (!theirEdges.has(e)) found.push(`edge ${e} is not in the submitted JobGraph`);

  if (submitted.configJson !== rebuilt.configJson) {
    found.push(
      `the job config is ${json(rebuilt.configJson)} here but ${json(submitted.configJson)} submitted`,
    );
  }
  if (found.length === 0) return undefined;
  const more = found.length > SHOWN ? ` (and ${found.length - SHOWN} more)` : "";
  return found.slice(0, SHOWN).join("; ") + more;
}

function vertexDifferences(submitted: JobVertex, rebuilt: JobVertex): string[] {
  const out: string[] = [];
  const differ = (what: string, here: string, there: string): void => {
    if (here !== there) out.push(`vertex ${submitted.id}: ${what} is ${here} here but ${there} submitted`);
  };
  differ("the operator", rebuilt.operatorKind, submitted.operatorKind);
  differ("the parallelism", String(rebuilt.parallelism), String(submitted.parallelism));
  differ("the name", quote(rebuilt.name), quote(submitted.name));
  differ("the config", json(rebuilt.configJson), json(submitted.configJson));
  return out;
}

function edgeText(e: JobEdge): string {
  return `${e.source} -> ${e.target} (${partitioningName(e.partitioning)})`;
}

function quote(s: string): string {
  return JSON.stringify(s);
}

function json(configJson: string): string {
  return configJson === "" ? "{}" : configJson;
}
