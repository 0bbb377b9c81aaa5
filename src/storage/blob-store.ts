// File storage for payloads too large for the HA store (DESIGN.md §3): application artifacts, large
// JobGraphs, checkpoint metadata. Blobs are immutable and uniquely named; a writer stores the blob first and
// only then the pointer (a BlobRef) in a fenced HA-store write. If the pointer write's outcome is unknown the
// blob is kept; orphans are found by listing, never by guessing.
import { createHash, randomUUID } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ConfigError, CorruptRecordError, NotFoundError } from "../common/errors.ts";
import type { BlobRef } from "../generated/records.ts";

export class FileBlobStore {
  private readonly dir: string;

  /** @param storageUri a file:// URI of a directory shared by every JobManager and TaskManager. */
  constructor(storageUri: string) {
    let url: URL;
    try {
      url = new URL(storageUri);
    } catch {
      throw new ConfigError(
        `storage dir: ${JSON.stringify(storageUri)} is not a URI; use file:///absolute/path`,
      );
    }
    if (url.protocol !== "file:") {
      throw new ConfigError(`storage dir: ${JSON.stringify(storageUri)}: only file:// URIs are supported`);
    }
    this.dir = join(fileURLToPath(url), "blobs");
  }

  /** Writes `bytes` durably under a new unique name (temp file, fsync, rename) and returns its pointer. */
  async put(kind: string, bytes: Uint8Array): Promise<BlobRef> {
    await mkdir(this.dir, { recursive: true });
    const name = `${kind}-${randomUUID()}`;
    const path = join(this.dir, name);
    const tmp = join(this.dir, `.${name}.tmp`);
    const file = await open(tmp, "wx");
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    return { uri: pathToFileURL(path).href, size: BigInt(bytes.byteLength), sha256 };
  }

  /** Reads a blob and verifies its size and checksum. NotFoundError / CorruptRecordError name the URI. */
  async get(ref: BlobRef): Promise<Uint8Array> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.pathOf(ref));
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(ref.uri);
      throw e;
    }
    const wrong = checkBytes(bytes, ref);
    if (wrong !== undefined) throw new CorruptRecordError(ref.uri, wrong);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Deletes a blob; true if it existed. Call only after its pointer is gone. */
  async delete(ref: BlobRef): Promise<boolean> {
    const path = this.pathOf(ref);
    const existed = await stat(path).then(
      () => true,
      () => false,
    );
    await rm(path, { force: true });
    return existed;
  }

  /** URIs of every blob (for the orphan-cleanup pass). */
  async list(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names.filter((n) => !n.startsWith(".")).map((n) => pathToFileURL(join(this.dir, n)).href);
  }

  private pathOf(ref: BlobRef): string {
    const path = fileURLToPath(ref.uri);
    if (!path.startsWith(this.dir + "/")) {
      throw new CorruptRecordError(ref.uri, `blob pointer is outside the storage directory ${this.dir}`);
    }
    return path;
  }
}

/** What is wrong with `bytes` as the content `ref` points at (size, then checksum); undefined when they match. */
export function checkBytes(bytes: Uint8Array, ref: BlobRef): string | undefined {
  if (BigInt(bytes.byteLength) !== ref.size)
    return `has ${bytes.byteLength} bytes, its pointer says ${ref.size}`;
  if (createHash("sha256").update(bytes).digest("hex") !== ref.sha256) {
    return "does not match its pointer's checksum";
  }
  return undefined;
}
