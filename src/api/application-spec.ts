// How a TaskManager reruns an application's main: the JobGraph's application_json, written by `vigil run`
// and read wherever functions are resolved. The same arguments, default parallelism and working directory as
// on the client, or main builds a different graph and resolution refuses it.
import { basename } from "node:path";
import { InvalidArgumentError } from "../common/errors.ts";
import type { JobGraph } from "../generated/records.ts";
import { ConfigReader } from "../runtime/config-reader.ts";
import { parseJsonText } from "../runtime/json-text.ts";
import { isValidParallelism, PARALLELISM_RANGE } from "./pipeline.ts";

export interface ApplicationSpec {
  /** The application's file name as submitted (no directory): its extension decides how it is loaded. */
  readonly file: string;
  readonly args: readonly string[];
  readonly defaultParallelism: number;
  /** The submitting client's working directory; relative paths in the pipeline resolve against it. */
  readonly workingDirectory: string;
}

/** The JSON text for JobGraph.application_json; `file` is reduced to its base name. */
export function applicationJsonOf(spec: ApplicationSpec): string {
  return JSON.stringify({
    file: basename(spec.file),
    args: [...spec.args],
    defaultParallelism: spec.defaultParallelism,
    workingDirectory: spec.workingDirectory,
  });
}

/** Parses application_json; InvalidArgumentErrors start with `where` and name the key. */
export function parseApplicationJson(text: string, where: string): ApplicationSpec {
  const r: ConfigReader = ConfigReader.of(parseJsonText(text, where), where, "");
  const file = r.string("file");
  if (file !== basename(file) || file === "." || file === "..") {
    r.fail("file", `${JSON.stringify(file)} must be a file name without a directory`);
  }
  const rawArgs = r.optionalArray("args")?.items ?? [];
  const args: string[] = [];
  for (const [i, a] of rawArgs.entries()) {
    if (typeof a !== "string") r.fail(`args[${i}]`, "must be a string");
    args.push(a);
  }
  const defaultParallelism = r.integer("defaultParallelism", { min: 1 });
  if (!isValidParallelism(defaultParallelism)) {
    r.fail("defaultParallelism", `must be ${PARALLELISM_RANGE}`);
  }
  const workingDirectory = r.string("workingDirectory");
  r.finish();
  return { file, args, defaultParallelism, workingDirectory };
}

/** The graph's application, or an InvalidArgumentError when it was not submitted by `vigil run`. */
export function applicationOf(graph: JobGraph): ApplicationSpec {
  const text = graph.applicationJson;
  if (text === undefined || text.trim() === "") {
    throw new InvalidArgumentError(
      `job ${graph.jobId}: the JobGraph has user functions but no application_json; submit it with vigil run`,
    );
  }
  return parseApplicationJson(text, `job ${graph.jobId}: application_json`);
}
