import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import type { JobVertex, OperatorSubtaskState } from "../../generated/records.ts";
import { encodeState, restoreOperatorState, writeOperatorState } from "../../state/snapshot.ts";
import { FileBlobStore } from "../../storage/blob-store.ts";
import { vertex } from "../testing.ts";
import type { StreamSource } from "./operators.ts";
import { builtInStreamOperators } from "./registry.ts";
import { inputFiles } from "./source-files.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

interface OpenSource {
  readonly source: StreamSource;
  snapshot(id: bigint): Promise<OperatorSubtaskState>;
}

async function openSource(
  blobs: FileBlobStore,
  v: JobVertex,
  subtask: number,
  parallelism: number,
  restore: { id: bigint; states: OperatorSubtaskState[] } | undefined,
): Promise<OpenSource> {
  const configured = builtInStreamOperators.configure(v, "test");
  if (configured.role !== "source") throw new Error(`${v.operatorKind} is not a source`);
  const state = await restoreOperatorState(blobs, restore?.states ?? [], {
    operatorUid: v.id,
    subtask,
    parallelism,
  });
  const source = configured.create();
  await source.open({
    jobId: "job-1",
    vertex: v,
    uid: v.id,
    subtask,
    parallelism,
    attempt: 0,
    epoch: 1n,
    signal: new AbortController().signal,
    keyedState: state.keyed,
    operatorState: state.operator,
    output: { collect: () => {} },
    functions: () => undefined,
    checkpointing: true,
    stdout: () => {},
  });
  await source.initializeState({
    checkpointId: state.restored ? restore?.id : undefined,
    previousParallelism: state.previousParallelism,
  });
  return {
    source,
    async snapshot(id) {
      await source.snapshotState(id);
      return writeOperatorState(blobs, v.id, subtask, parallelism, encodeState(state.keyed, state.operator));
    },
  };
}

async function drain(source: StreamSource): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let batch = await source.next(); batch !== undefined; batch = await source.next()) out.push(...batch);
  return out;
}

describe("replayable sources", () => {
  it("source.files resumes at the stored line, also with another parallelism", async () => {
    const base = await mkdtemp(join(tmpdir(), "vigil-sources-test-"));
    dirs.push(base);
    const input = join(base, "in");
    await mkdir(input);
    const all: string[] = [];
    for (const [name, n] of [
      ["a.txt", 600],
      ["b.txt", 10],
      ["c.txt", 0],
      ["d.txt", 300],
    ] as const) {
      const lines = Array.from({ length: n }, (_, i) => `${name}:${i}`);
      all.push(...lines);
      await writeFile(join(input, name), lines.map((l) => `${l}\n`).join(""));
    }
    const blobs = new FileBlobStore(pathToFileURL(join(base, "storage")).href);
    const v = vertex("lines", "source.files", { path: input });
    const before: unknown[] = [];
    const states: OperatorSubtaskState[] = [];
    for (let i = 0; i < 2; i++) {
      const s = await openSource(blobs, v, i, 2, undefined);
      before.push(...((await s.source.next()) ?? []));
      states.push(await s.snapshot(1n));
      // Read past the snapshot: these lines must come again after the restore.
      await s.source.next();
      await s.source.close();
    }
    const after: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await openSource(blobs, v, i, 3, { id: 1n, states });
      after.push(...(await drain(s.source)));
    }
    expect([...before, ...after].sort()).toEqual([...all].sort());
    expect(new Set(after).size).toBe(after.length);
  });

  it("source.files reads links to regular files, and skips hidden files, directories and dangling links", async () => {
    const base = await mkdtemp(join(tmpdir(), "vigil-sources-test-"));
    dirs.push(base);
    const input = join(base, "in");
    const data = join(base, "data");
    await mkdir(input);
    await mkdir(data);
    await writeFile(join(data, "book.txt"), "linked 1\nlinked 2\n");
    await writeFile(join(input, "own.txt"), "own\n");
    await writeFile(join(input, ".hidden"), "hidden\n");
    await mkdir(join(input, "sub"));
    await symlink(join(data, "book.txt"), join(input, "book.txt"));
    await symlink(join(data, "gone.txt"), join(input, "dangling.txt"));
    expect(await inputFiles(input)).toEqual(["book.txt", "own.txt"]);
    const blobs = new FileBlobStore(pathToFileURL(join(base, "storage")).href);
    const s = await openSource(blobs, vertex("lines", "source.files", { path: input }), 0, 1, undefined);
    expect(await drain(s.source)).toEqual(["linked 1", "linked 2", "own"]);
  });

  it("source.files with ratePerSecond still emits every line once across a restore", async () => {
    const base = await mkdtemp(join(tmpdir(), "vigil-sources-test-"));
    dirs.push(base);
    const input = join(base, "in");
    await mkdir(input);
    const all = Array.from({ length: 40 }, (_, i) => `line ${i}`);
    await writeFile(join(input, "a.txt"), all.slice(0, 25).join("\n"));
    await writeFile(join(input, "b.txt"), all.slice(25).join("\n"));
    const blobs = new FileBlobStore(pathToFileURL(join(base, "storage")).href);
    const v = vertex("lines", "source.files", { path: input, ratePerSecond: 2_000 });
    const first = await openSource(blobs, v, 0, 1, undefined);
    const before = [...((await first.source.next()) ?? []), ...((await first.source.next()) ?? [])];
    const states = [await first.snapshot(1n)];
    await first.source.next(); // past the snapshot: comes again after the restore
    await first.source.close();
    const after = await drain((await openSource(blobs, v, 0, 1, { id: 1n, states })).source);
    expect([...before, ...after]).toEqual(all);
  });

  it("source.sequence resumes every split exactly where the snapshot was", async () => {
    const base = await mkdtemp(join(tmpdir(), "vigil-sources-test-"));
    dirs.push(base);
    const blobs = new FileBlobStore(pathToFileURL(base).href);
    const v = vertex("numbers", "source.sequence", { count: 2000 });
    const before: unknown[] = [];
    const states: OperatorSubtaskState[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await openSource(blobs, v, i, 3, undefined);
      before.push(...((await s.source.next()) ?? []));
      states.push(await s.snapshot(4n));
    }
    const after: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      after.push(...(await drain((await openSource(blobs, v, i, 2, { id: 4n, states })).source)));
    }
    expect(([...before, ...after] as number[]).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 2000 }, (_, i) => i + 1),
    );
  });
});
