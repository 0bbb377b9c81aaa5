// Running an application's `main` in capture mode: on the client to build the JobGraph it submits, and on a
// TaskManager to collect the functions its operators call. Functions are never serialized; a TaskManager
// reruns main with the same arguments and options and accepts the functions only if main built the very
// graph that was submitted, so a function can never be attached to the wrong operator.
import { describeCause } from "../common/errors.ts";
import type { JobGraph } from "../generated/records.ts";
import { type ApplicationModule, type CapturedExecution, CaptureEnvironment } from "./environment.ts";
import { ApplicationError } from "./errors.ts";
import { type FunctionKind, type FunctionTable, keySelectorId } from "./functions.ts";
import { describeGraphDifference } from "./graph-difference.ts";
import { buildJobGraph, type CompiledPipeline } from "./job-graph-builder.ts";
import { isValidParallelism, PARALLELISM_RANGE } from "./pipeline.ts";

export interface CompileOptions {
  /** Parallelism of operators that set none, unless main calls env.setParallelism (`vigil run --parallelism`). */
  readonly defaultParallelism: number;
  /**
   * Relative paths in the pipeline resolve against it. A TaskManager must pass the submitting client's (it
   * travels with the job), or its graph will differ. Default: this process's working directory.
   */
  readonly workingDirectory?: string | undefined;
  /** The job's name when main gives execute() none. Default "job". */
  readonly defaultJobName?: string | undefined;
  /** Default: derived from the graph's content. Ignored when graphs are compared. */
  readonly jobId?: string | undefined;
  /** Gives up on a main that never calls execute() nor returns. */
  readonly signal?: AbortSignal | undefined;
}

export type CompiledApplication = CompiledPipeline;

/** Runs main(env, args) until it calls execute(); the captured pipeline as a JobGraph and its functions. */
export async function compileApplication(
  module: ApplicationModule,
  args: readonly string[],
  options: CompileOptions,
): Promise<CompiledApplication> {
  const defaultParallelism = options.defaultParallelism;
  if (!isValidParallelism(defaultParallelism)) {
    throw new ApplicationError(
      `default parallelism ${String(defaultParallelism)} is invalid; use ${PARALLELISM_RANGE}`,
    );
  }
  const env = new CaptureEnvironment(options.workingDirectory ?? process.cwd());
  const capture = await runMain(module, env, [...args], options.signal);
  if (capture.repeated) {
    throw new ApplicationError(
      "main called execute() more than once; vigil runs one job per application run: build one pipeline and call execute() once",
    );
  }
  return buildJobGraph(capture.pipeline, {
    defaultParallelism,
    jobName: capture.jobName ?? options.defaultJobName ?? "job",
    jobId: options.jobId,
  });
}

/**
 * Reruns main (on a TaskManager, or on the client with a fresh module instance before submitting) and returns
 * its functions if it built `submitted` again, else an ApplicationError naming the first differences. `where`
 * says where main ran, for that message ("on the TaskManager").
 */
export async function resolveFunctions(
  module: ApplicationModule,
  args: readonly string[],
  submitted: JobGraph,
  options: CompileOptions & { readonly where?: string },
): Promise<FunctionTable> {
  const rebuilt = await compileApplication(module, args, { ...options, jobId: submitted.jobId });
  const difference = describeGraphDifference(submitted, rebuilt.graph);
  if (difference !== undefined) {
    throw new ApplicationError(
      `the application built a different pipeline ${options.where ?? "on the TaskManager"}: ${difference}; main must be deterministic: the same arguments must build the same pipeline (no clocks, random numbers or files deciding its shape)`,
    );
  }
  checkFunctions(submitted, rebuilt.functions);
  return rebuilt.functions;
}

/** Function kinds per operator kind; keyed kinds also need a key selector. */
const USER_FUNCTIONS: Readonly<Record<string, { fn?: FunctionKind; keyed: boolean }>> = {
  "user.map": { fn: "map", keyed: false },
  "user.filter": { fn: "filter", keyed: false },
  "user.flat-map": { fn: "flat-map", keyed: false },
  "user.reduce": { fn: "reduce", keyed: true },
  "user.sum": { keyed: true },
  "user.keyed-process": { fn: "keyed-process", keyed: true },
};

/** Every user.* vertex of `graph` has its functions in `functions`, of the right kinds; else ApplicationError. */
export function checkFunctions(graph: JobGraph, functions: FunctionTable): void {
  for (const v of graph.vertices) {
    const needs = USER_FUNCTIONS[v.operatorKind];
    if (needs === undefined) continue;
    const wanted: [string, FunctionKind][] = [];
    if (needs.fn !== undefined) wanted.push([v.id, needs.fn]);
    if (needs.keyed) wanted.push([keySelectorId(v.id), "key-selector"]);
    for (const [id, kind] of wanted) {
      const found = functions.get(id);
      if (found?.kind !== kind) {
        throw new ApplicationError(
          `vertex ${v.id} (${v.operatorKind}): the application defines no ${kind} function ${JSON.stringify(id)}; submit the JobGraph that this application builds`,
        );
      }
    }
  }
}

async function runMain(
  module: ApplicationModule,
  env: CaptureEnvironment,
  args: string[],
  signal: AbortSignal | undefined,
): Promise<CapturedExecution> {
  signal?.throwIfAborted();
  const main = (async () => module.main(env, args))().then(
    () => ({ failed: false as const }),
    (e: unknown) => ({ failed: true as const, error: e }),
  );
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  let outcome: { failed: boolean; error?: unknown } | CapturedExecution;
  try {
    outcome = await Promise.race([env.captured, main, aborted]);
  } finally {
    if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
  }
  // execute() may have run in the same turn as a failure or return; what it captured wins, as code after an
  // awaited execute() never runs.
  const capture = env.capture;
  if (capture !== undefined) return capture;
  if ("failed" in outcome && outcome.failed) throw mainFailed(outcome.error);
  throw new ApplicationError(
    "main returned without calling env.execute(); build the pipeline, then `await env.execute()`",
  );
}

function mainFailed(e: unknown): ApplicationError {
  // vigil's errors (also those of the application's own copy of vigil, another module instance, hence the
  // check by shape) say what is wrong already; anything else is shown with its name, "TypeError: …".
  const vigil = e instanceof Error && typeof (e as { code?: unknown }).code === "string";
  const detail = e instanceof Error && !vigil ? `${e.name}: ${e.message}` : describeCause(e);
  return new ApplicationError(`application main(env, args) failed: ${detail}`, e);
}
