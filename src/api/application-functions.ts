// A TaskManager's side of `vigil run`: the artifact (the application file the client submitted, fetched from
// file storage) is written to a local cache under its sha256, loaded once per process, and its main rerun with
// the job's arguments to resolve the functions of the submitted JobGraph (see compile.ts). Every task of a job
// on this TaskManager shares one function table, as Flink's tasks share their job's user class loader.
//
// Loaded modules stay in memory for the life of the process (Node cannot unload modules); entries that failed
// are dropped, so a later deployment tries again.
import { createHash, randomUUID } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { describeCause } from "../common/errors.ts";
import type { JobGraph } from "../generated/records.ts";
import type { FunctionLookup } from "../runtime/streaming/operators.ts";
import { type ApplicationSpec, applicationJsonOf, applicationOf } from "./application-spec.ts";
import { resolveFunctions } from "./compile.ts";
import type { ApplicationModule } from "./environment.ts";
import { ApplicationError } from "./errors.ts";
import { functionLookup } from "./functions.ts";
import { importApplication } from "./loader.ts";

/** A main that neither calls execute() nor fails within this long is given up on. */
export const RESOLVE_TIMEOUT_MS = 60_000;

export interface LoadApplicationFunctionsRequest {
  /** The submitted JobGraph (TaskDescriptor.job_graph); its functions are resolved against it. */
  readonly graph: JobGraph;
  /** The artifact's bytes (FileBlobStore.get(graph.artifact)), or the path of a local copy. */
  readonly artifact: Uint8Array | { readonly path: string };
  /** Default: parsed from graph.applicationJson. */
  readonly application?: ApplicationSpec | undefined;
  /** Where artifacts are written as <sha256><original extension>; created when missing. */
  readonly cacheDir: string;
  /** Stops waiting (the shared load goes on for other callers). */
  readonly signal?: AbortSignal | undefined;
}

const modules = new Map<string, Promise<ApplicationModule>>();
const lookups = new Map<string, Promise<FunctionLookup>>();

/**
 * The functions of `graph`'s user.* operators by uid (vertex id, keySelectorUid(vertex id)). ApplicationError
 * when the artifact cannot be loaded, main fails, or main builds a different graph than the one submitted.
 */
export async function loadApplicationFunctions(
  request: LoadApplicationFunctionsRequest,
): Promise<FunctionLookup> {
  const { graph, cacheDir } = request;
  const application = request.application ?? applicationOf(graph);
  const bytes =
    request.artifact instanceof Uint8Array ? request.artifact : await readArtifact(request.artifact.path);
  const sha = createHash("sha256").update(bytes).digest("hex");
  const file = join(cacheDir, `${sha}${extname(application.file)}`);
  const key = `${file}\n${graph.jobId}\n${applicationJsonOf(application)}`;
  let lookup = lookups.get(key);
  if (lookup === undefined) {
    lookup = (async () => {
      const module = await loadModule(file, bytes, cacheDir, application.file);
      const functions = await resolveFunctions(module, application.args, graph, {
        defaultParallelism: application.defaultParallelism,
        workingDirectory: application.workingDirectory,
        signal: AbortSignal.timeout(RESOLVE_TIMEOUT_MS),
        where: "on the TaskManager",
      });
      return functionLookup(functions);
    })();
    forgetOnFailure(lookups, key, lookup);
  }
  return abortable(lookup, request.signal);
}

function loadModule(
  file: string,
  bytes: Uint8Array,
  cacheDir: string,
  original: string,
): Promise<ApplicationModule> {
  let module = modules.get(file);
  if (module === undefined) {
    module = (async () => {
      await writeArtifact(file, bytes, cacheDir);
      try {
        return await importApplication(file);
      } catch (e: unknown) {
        // The cache file's name means nothing to the user; the submitted one does.
        if (e instanceof ApplicationError) {
          throw new ApplicationError(`${e.message.replaceAll(file, original)} (artifact ${file})`, e);
        }
        throw e;
      }
    })();
    forgetOnFailure(modules, file, module);
  }
  return module;
}

async function readArtifact(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e: unknown) {
    throw new ApplicationError(`application artifact ${path} cannot be read: ${describeCause(e)}`, e);
  }
}

// Content-addressed, written whole then renamed: a file under its final name is always complete, and any
// process that finds it can use it. The package.json makes a .ts/.js artifact an ES module, as the client
// required of the original.
async function writeArtifact(file: string, bytes: Uint8Array, cacheDir: string): Promise<void> {
  try {
    await mkdir(cacheDir, { recursive: true });
    await writeAtomically(join(cacheDir, "package.json"), JSON.stringify({ type: "module" }));
    await writeAtomically(file, bytes);
  } catch (e: unknown) {
    throw new ApplicationError(
      `application artifact cache ${cacheDir} is not writable: ${describeCause(e)}; check the TaskManager's cache directory`,
      e,
    );
  }
}

async function writeAtomically(file: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${file}.${randomUUID()}.tmp`;
  try {
    await writeFile(temporary, data);
    await rename(temporary, file);
  } finally {
    await rm(temporary, { force: true });
  }
}

function forgetOnFailure<T>(cache: Map<string, Promise<T>>, key: string, value: Promise<T>): void {
  cache.set(key, value);
  value.catch(() => {
    if (cache.get(key) === value) cache.delete(key);
  });
}

function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    void work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
