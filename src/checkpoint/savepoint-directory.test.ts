import { mkdtemp, readdir, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../common/errors.ts";
import { type CheckpointMetadata, codecs } from "../generated/records.ts";
import { RECORD_VERSION } from "../ha/stores/records.ts";
import { FileBlobStore } from "../storage/blob-store.ts";
import {
  deleteImportedSavepoint,
  importSavepoint,
  readSavepointMetadata,
  SAVEPOINT_METADATA_FILE,
  writeSavepointDirectory,
} from "./savepoint-directory.ts";

let dir: string;
let blobs: FileBlobStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "vigil-savepoint-dir-test-"));
  blobs = new FileBlobStore(pathToFileURL(join(dir, "storage")).href);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function checkpoint(): Promise<CheckpointMetadata> {
  const a = await blobs.put("state", new TextEncoder().encode("state of the source"));
  const b = await blobs.put("state", new TextEncoder().encode("state of the counter"));
  return {
    version: RECORD_VERSION,
    jobId: "job/1",
    checkpointId: 7n,
    triggeredAtMs: 1n,
    savepoint: true,
    states: [
      { operatorUid: "source", subtask: 0, parallelism: 1, state: a },
      { operatorUid: "counter", subtask: 0, parallelism: 2, state: b },
      { operatorUid: "counter", subtask: 1, parallelism: 2 },
    ],
  };
}

describe("savepoint directories", () => {
  it("are written complete, self-contained and relocatable, and import into another job's storage", async () => {
    const metadata = await checkpoint();
    const path = await writeSavepointDirectory(blobs, metadata, join(dir, "savepoints"));
    expect(path).toMatch(/\/savepoints\/savepoint-job_1-7-[0-9a-f]{6}$/);
    expect((await readdir(join(dir, "savepoints"))).filter((n) => n.startsWith("."))).toEqual([]);
    const moved = join(dir, "elsewhere");
    await rename(path, moved);

    const imported = await importSavepoint(blobs, join(moved, SAVEPOINT_METADATA_FILE), "job-2");
    expect(imported.metadata.jobId).toBe("job-2");
    expect(imported.metadata.checkpointId).toBe(7n);
    expect(imported.metadata.states[2]!.state).toBeUndefined();
    const bytes = await Promise.all(imported.metadata.states.slice(0, 2).map((s) => blobs.get(s.state!)));
    expect(bytes.map((b) => new TextDecoder().decode(b))).toEqual([
      "state of the source",
      "state of the counter",
    ]);
    expect(codecs.CheckpointMetadata.decode(await blobs.get(imported.ref))).toEqual(imported.metadata);

    await deleteImportedSavepoint(blobs, imported.ref);
    for (const s of imported.metadata.states)
      if (s.state) await expect(blobs.get(s.state)).rejects.toThrow(/not found/);
    await expect(blobs.get(imported.ref)).rejects.toThrow(/not found/);
  });

  it("refuse bad paths and damaged savepoints by name, and leave nothing imported", async () => {
    const path = await writeSavepointDirectory(blobs, await checkpoint(), join(dir, "savepoints"));
    const before = (await blobs.list()).length;
    const refused = (p: string) => expect(importSavepoint(blobs, p, "j")).rejects;

    await refused("relative/path").toThrow(/is not an absolute path/);
    await refused(join(dir, "missing")).toThrow(/does not exist; pass the directory that vigil savepoint/);
    await refused(dir).toThrow(/has no _metadata file/);
    await writeFile(join(dir, "some-file"), "x");
    await refused(join(dir, "some-file")).toThrow(/is a file, but not a savepoint's _metadata/);

    await writeFile(join(path, "state-1"), "tampered");
    await refused(path).toThrow(
      new InvalidArgumentError(
        `savepoint ${JSON.stringify(path)}: the state of operator "counter" subtask 0 ("state-1") has 8 bytes, its pointer says 20; the savepoint is damaged, restore from another one`,
      ),
    );
    await rm(join(path, "state-1"));
    await refused(path).toThrow(/\("state-1"\) is missing/);
    expect((await blobs.list()).length).toBe(before); // the source's state, imported first, was removed again

    const metadata = await checkpoint();
    const escaping = {
      ...metadata,
      states: [{ ...metadata.states[0]!, state: { ...metadata.states[0]!.state!, uri: "../x" } }],
    };
    await writeFile(join(path, SAVEPOINT_METADATA_FILE), codecs.CheckpointMetadata.encode(escaping));
    await refused(path).toThrow(/is not a file name inside the savepoint directory/);
    await writeFile(join(path, SAVEPOINT_METADATA_FILE), "not protobuf at all");
    await expect(readSavepointMetadata(path)).rejects.toThrow(/_metadata is not savepoint metadata/);
  });
});
