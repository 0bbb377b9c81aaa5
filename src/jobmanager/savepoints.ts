// Savepoints on the leader: where they go by default, and what a submission that starts from one
// (vigil run --from-savepoint) becomes: the savepoint imported into file storage and checked against the job
// before the graph is stored, so a bad path or a savepoint that does not fit the job is refused with nothing
// stored (as Flink refuses state it cannot map without --allow-non-restored-state).
import { isAbsolute } from "node:path";
import { discardImport, importSavepoint } from "../checkpoint/savepoint-directory.ts";
import { InvalidArgumentError } from "../common/errors.ts";
import type { JobGraph } from "../generated/records.ts";
import type { FileBlobStore } from "../storage/blob-store.ts";

/** The graph to store: with its savepoint imported, when it names one. */
export async function withImportedSavepoint(
  graph: JobGraph,
  blobs: FileBlobStore | undefined,
): Promise<JobGraph> {
  const restore = graph.savepointRestore;
  if (restore === undefined) return graph;
  const what = `submit job ${graph.jobId}: savepoint ${JSON.stringify(restore.path)}`;
  if (restore.metadata !== undefined) {
    throw new InvalidArgumentError(`${what}: savepointRestore.metadata is the leader's to set; leave it out`);
  }
  if (!blobs) {
    throw new InvalidArgumentError(
      `${what}: the JobManagers have no file storage to import it into; start them with --storage-dir`,
    );
  }
  const imported = await importSavepoint(blobs, restore.path, graph.jobId);
  const uids = new Set(graph.vertices.map((v) => v.id));
  const dropped = [
    ...new Set(
      imported.metadata.states.filter((s) => s.state && !uids.has(s.operatorUid)).map((s) => s.operatorUid),
    ),
  ];
  if (dropped.length > 0 && !restore.allowNonRestoredState) {
    await discardImport(blobs, imported.ref, imported.metadata.states);
    throw new InvalidArgumentError(
      `${what} holds state of operator(s) ${dropped.map((u) => JSON.stringify(u)).join(", ")}, which the job does not have (its uids: ${[...uids].join(", ")}); give those operators the same uid(), or pass --allow-non-restored-state to drop that state`,
    );
  }
  return { ...graph, savepointRestore: { ...restore, metadata: imported.ref } };
}

/** A stored graph as its submitter sent it: without what the leader added (artifact, imported savepoint). */
export function asSubmitted(stored: JobGraph, requestCarriedArtifact: boolean): JobGraph {
  const { artifact, savepointRestore, ...rest } = stored;
  const restore = savepointRestore && {
    path: savepointRestore.path,
    allowNonRestoredState: savepointRestore.allowNonRestoredState,
  };
  return {
    ...rest,
    ...(artifact && !requestCarriedArtifact && { artifact }),
    ...(restore && { savepointRestore: restore }),
  };
}

/** The directory a savepoint request names, or the default; an absolute path. */
export function savepointDirectory(requested: string, fallback: string | undefined, jobId: string): string {
  if (requested === "") {
    if (fallback === undefined) {
      throw new InvalidArgumentError(
        `savepoint of job ${jobId}: no directory given and the JobManagers have no default; pass --dir DIR or start them with --savepoint-dir`,
      );
    }
    return fallback;
  }
  if (!isAbsolute(requested)) {
    throw new InvalidArgumentError(
      `savepoint of job ${jobId}: directory ${JSON.stringify(requested)} is not an absolute path`,
    );
  }
  return requested;
}
