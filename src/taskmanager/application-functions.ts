// The user functions of a deployed task: the job's application artifact is fetched from file storage and
// handed to src/api's loadApplicationFunctions, which caches it by sha256, loads it once per process and
// reruns its main to resolve the functions of the submitted JobGraph. Tasks without user code skip all that.
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadApplicationFunctions } from "../api/application-functions.ts";
import { InvalidArgumentError } from "../common/errors.ts";
import type { TaskDescriptor } from "../generated/records.ts";
import type { FunctionLookup } from "../runtime/streaming/operators.ts";
import type { FileBlobStore } from "../storage/blob-store.ts";

const NO_FUNCTIONS: FunctionLookup = () => undefined;

/** True when the task calls user code: a user.* vertex in its chain, or a hash output (the key selector). */
export function needsFunctions(task: TaskDescriptor): boolean {
  return (
    task.chain.some((v) => v.operatorKind.startsWith("user.")) ||
    task.outputs.some((o) => o.partitioning === "PARTITIONING_HASH")
  );
}

export class ApplicationFunctions {
  private readonly cacheDir: string;

  /** `blobs` is called only for tasks with user code (it may throw: no storage configured). */
  constructor(
    taskmanagerId: string,
    private readonly blobs: () => FileBlobStore,
    cacheDir?: string,
  ) {
    this.cacheDir =
      cacheDir ?? join(tmpdir(), `vigil-artifacts-${taskmanagerId.replace(/[^\w.-]/g, "_")}-${process.pid}`);
  }

  /**
   * The functions `task` calls (none when it calls none). Rejects when the job carries no application or it
   * cannot be loaded or resolved; `signal` ends the wait, not the shared load.
   */
  async lookup(task: TaskDescriptor, signal: AbortSignal): Promise<FunctionLookup> {
    if (!needsFunctions(task)) return NO_FUNCTIONS;
    const graph = task.jobGraph;
    if (graph?.artifact === undefined) {
      throw new InvalidArgumentError(
        `task ${task.executionId}: the chain runs user functions but the job graph carries no application artifact; submit the job with vigil run APP`,
      );
    }
    const artifact = await this.blobs().get(graph.artifact);
    signal.throwIfAborted();
    return loadApplicationFunctions({ graph, artifact, cacheDir: this.cacheDir, signal });
  }

  /** Removes this TaskManager's copies of artifacts (loaded modules stay in memory). */
  async close(): Promise<void> {
    await rm(this.cacheDir, { recursive: true, force: true });
  }
}
