import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, CorruptRecordError, NotFoundError } from "../common/errors.ts";
import { FileBlobStore } from "./blob-store.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function store(): Promise<FileBlobStore> {
  const dir = await mkdtemp(join(tmpdir(), "vigil-blob-test-"));
  dirs.push(dir);
  return new FileBlobStore(pathToFileURL(dir).href);
}

describe("FileBlobStore", () => {
  it("round-trips a blob, lists it and deletes it", async () => {
    const s = await store();
    const ref = await s.put("artifact", new Uint8Array([1, 2, 3]));
    expect(ref.size).toBe(3n);
    expect(await s.get(ref)).toEqual(new Uint8Array([1, 2, 3]));
    expect(await s.list()).toEqual([ref.uri]);
    expect(await s.delete(ref)).toBe(true);
    expect(await s.delete(ref)).toBe(false);
    await expect(s.get(ref)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("detects a blob changed behind its pointer", async () => {
    const s = await store();
    const ref = await s.put("x", new Uint8Array([1, 2, 3]));
    await writeFile(fileURLToPath(ref.uri), new Uint8Array([9, 9, 9]));
    await expect(s.get(ref)).rejects.toThrow(/checksum/);
    await expect(s.get({ ...ref, size: 4n })).rejects.toBeInstanceOf(CorruptRecordError);
  });

  it("refuses pointers outside its directory and non-file URIs", async () => {
    const s = await store();
    await expect(s.get({ uri: "file:///etc/passwd", size: 1n, sha256: "" })).rejects.toThrow(
      /outside the storage directory/,
    );
    expect(() => new FileBlobStore("s3://bucket/x")).toThrow(ConfigError);
    expect(() => new FileBlobStore("/relative/path")).toThrow(/not a URI/);
  });
});
