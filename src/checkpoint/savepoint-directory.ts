// Savepoints as directories that belong to the user (Flink's savepoint format, simplified): a savepoint is
// written out of file storage into `<target>/savepoint-<job>-<id>-<suffix>/`, holding `_metadata` (a
// CheckpointMetadata whose state references are file names relative to the directory) and one file per state
// blob. Self-contained and relocatable: move or copy the directory and it still restores. A new job restores
// from it by importing it into file storage first (copies, verified by size and checksum), so that the
// cluster never depends on the user keeping the directory, nor ever writes into it.
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join } from "node:path";
import { InvalidArgumentError, NotFoundError } from "../common/errors.ts";
import {
  type BlobRef,
  type CheckpointMetadata,
  codecs,
  type OperatorSubtaskState,
} from "../generated/records.ts";
import { decodeRecord } from "../ha/stores/records.ts";
import { STATE_BLOB_KIND } from "../state/snapshot.ts";
import { checkBytes, type FileBlobStore } from "../storage/blob-store.ts";
import { writeMetadata } from "./metadata.ts";

export const SAVEPOINT_METADATA_FILE = "_metadata";

/**
 * Writes checkpoint `metadata` (its states read from `blobs`, verified) as a new savepoint directory under
 * `targetDirectory` and returns the directory's path. The directory appears complete or not at all (written
 * under a dot-name, then renamed).
 */
export async function writeSavepointDirectory(
  blobs: FileBlobStore,
  metadata: CheckpointMetadata,
  targetDirectory: string,
): Promise<string> {
  if (!isAbsolute(targetDirectory)) {
    throw new InvalidArgumentError(
      `savepoint directory ${JSON.stringify(targetDirectory)} is not an absolute path`,
    );
  }
  const suffix = randomBytes(3).toString("hex");
  const name = `savepoint-${safeName(metadata.jobId)}-${metadata.checkpointId}-${suffix}`;
  const final = join(targetDirectory, name);
  const staging = join(targetDirectory, `.${name}.inprogress`);
  await mkdir(staging, { recursive: true });
  try {
    const states = [];
    for (const [i, s] of metadata.states.entries()) {
      if (s.state === undefined) {
        states.push(s);
        continue;
      }
      const file = `state-${i}`;
      await writeDurably(join(staging, file), await blobs.get(s.state));
      states.push({ ...s, state: { uri: file, size: s.state.size, sha256: s.state.sha256 } });
    }
    const record: CheckpointMetadata = { ...metadata, savepoint: true, states };
    await writeDurably(join(staging, SAVEPOINT_METADATA_FILE), codecs.CheckpointMetadata.encode(record));
    await rename(staging, final);
    await syncDirectory(targetDirectory);
    return final;
  } catch (e: unknown) {
    await rm(staging, { recursive: true, force: true });
    throw e;
  }
}

export interface ImportedSavepoint {
  /** The imported metadata in file storage (job id rewritten to the new job's). */
  readonly ref: BlobRef;
  readonly metadata: CheckpointMetadata;
}

/**
 * Reads a savepoint directory (or its `_metadata` file) strictly and copies it into file storage for job
 * `jobId`. Every problem is an InvalidArgumentError that names the path and says what to pass instead;
 * nothing is left in file storage when the import fails.
 */
export async function importSavepoint(
  blobs: FileBlobStore,
  path: string,
  jobId: string,
): Promise<ImportedSavepoint> {
  const { directory, metadata } = await readSavepointMetadata(path);
  const written: BlobRef[] = [];
  try {
    const states = [];
    for (const s of metadata.states) {
      if (s.state === undefined) {
        states.push(s);
        continue;
      }
      const where = `operator ${JSON.stringify(s.operatorUid)} subtask ${s.subtask}`;
      const bytes = await readStateFile(directory, s.state, where);
      const ref = await blobs.put(STATE_BLOB_KIND, bytes);
      written.push(ref);
      states.push({ ...s, state: ref });
    }
    const imported: CheckpointMetadata = { ...metadata, jobId, savepoint: true, states };
    const ref = await writeMetadata(blobs, imported);
    return { ref, metadata: imported };
  } catch (e: unknown) {
    for (const ref of written) await blobs.delete(ref).catch(() => false);
    throw e;
  }
}

/** Deletes an imported savepoint's metadata and state blobs (job cleanup, after its graph is gone). */
export async function deleteImportedSavepoint(blobs: FileBlobStore, ref: BlobRef): Promise<void> {
  let metadata: CheckpointMetadata | undefined;
  try {
    metadata = decodeRecord(codecs.CheckpointMetadata, ref.uri, await blobs.get(ref));
  } catch (e: unknown) {
    if (!(e instanceof NotFoundError)) throw e;
  }
  await discardImport(blobs, ref, metadata?.states ?? []);
}

/** Deletes an import whose states are known: the metadata that names them first, then the state blobs. */
export async function discardImport(
  blobs: FileBlobStore,
  ref: BlobRef,
  states: readonly OperatorSubtaskState[],
): Promise<void> {
  await blobs.delete(ref);
  for (const s of states) if (s.state) await blobs.delete(s.state);
}

/** The savepoint's metadata, from a directory or its `_metadata` file. */
export async function readSavepointMetadata(
  path: string,
): Promise<{ readonly directory: string; readonly metadata: CheckpointMetadata }> {
  const problem = (what: string): InvalidArgumentError =>
    new InvalidArgumentError(
      `savepoint ${JSON.stringify(path)}: ${what}; pass the directory that vigil savepoint or vigil stop printed`,
    );
  if (!isAbsolute(path)) throw problem("is not an absolute path");
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) throw problem("does not exist");
  const directory = info.isDirectory() ? path : dirname(path);
  if (!info.isDirectory() && basename(path) !== SAVEPOINT_METADATA_FILE) {
    throw problem(`is a file, but not a savepoint's ${SAVEPOINT_METADATA_FILE}`);
  }
  const file = join(directory, SAVEPOINT_METADATA_FILE);
  const bytes = await readFile(file).catch(() => undefined);
  if (bytes === undefined) throw problem(`has no ${SAVEPOINT_METADATA_FILE} file`);
  let metadata: CheckpointMetadata;
  try {
    metadata = decodeRecord(codecs.CheckpointMetadata, file, bytes);
  } catch (e: unknown) {
    throw problem(`${SAVEPOINT_METADATA_FILE} is not savepoint metadata (${(e as Error).message})`);
  }
  return { directory, metadata };
}

async function readStateFile(directory: string, ref: BlobRef, where: string): Promise<Uint8Array> {
  const fail = (what: string): InvalidArgumentError =>
    new InvalidArgumentError(
      `savepoint ${JSON.stringify(directory)}: the state of ${where} (${JSON.stringify(ref.uri)}) ${what}; the savepoint is damaged, restore from another one`,
    );
  if (ref.uri === "" || ref.uri.includes("/") || ref.uri.startsWith(".")) {
    throw fail("is not a file name inside the savepoint directory");
  }
  const bytes = await readFile(join(directory, ref.uri)).catch(() => undefined);
  if (bytes === undefined) throw fail("is missing");
  const wrong = checkBytes(bytes, ref);
  if (wrong !== undefined) throw fail(wrong);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

async function writeDurably(path: string, bytes: Uint8Array): Promise<void> {
  const file = await open(path, "wx");
  try {
    await file.writeFile(bytes);
    await file.sync();
  } finally {
    await file.close();
  }
}

async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Job ids are user-chosen: keep the directory name one path segment. */
function safeName(s: string): string {
  return s.replace(/[^\w.-]/g, "_");
}
