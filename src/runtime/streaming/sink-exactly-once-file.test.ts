import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import type { OperatorSubtaskState } from "../../generated/records.ts";
import type { KeyedStateBackend } from "../../state/keyed-state.ts";
import type { OperatorStateStore } from "../../state/operator-state.ts";
import { encodeState, restoreOperatorState, writeOperatorState } from "../../state/snapshot.ts";
import { FileBlobStore } from "../../storage/blob-store.ts";
import { vertex } from "../testing.ts";
import type { StreamOperator, StreamOperatorContext } from "./operators.ts";
import { builtInStreamOperators } from "./registry.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "vigil-2pc-test-"));
  dirs.push(dir);
  return dir;
}

interface Attempt {
  readonly sink: StreamOperator;
  readonly keyed: KeyedStateBackend;
  readonly operator: OperatorStateStore;
}

/** One sink subtask attempt, opened and initialized from `restore` (of checkpoint `checkpointId`). */
async function startSink(
  blobs: FileBlobStore,
  out: string,
  attempt: number,
  restore: { checkpointId: bigint; states: OperatorSubtaskState[] } | undefined,
  checkpointing = true,
): Promise<Attempt> {
  const v = vertex("sink", "sink.exactly-once-file", { path: out });
  const configured = builtInStreamOperators.configure(v, "test");
  if (configured.role !== "operator") throw new Error("sink.exactly-once-file is an operator");
  const restored = await restoreOperatorState(blobs, restore?.states ?? [], {
    operatorUid: "sink",
    subtask: 0,
    parallelism: 1,
  });
  const context: StreamOperatorContext = {
    jobId: "job-1",
    vertex: v,
    uid: "sink",
    subtask: 0,
    parallelism: 1,
    attempt,
    epoch: 3n,
    signal: new AbortController().signal,
    keyedState: restored.keyed,
    operatorState: restored.operator,
    output: { collect: () => {} },
    functions: () => undefined,
    checkpointing,
    stdout: () => {},
  };
  const sink = configured.create();
  await sink.open(context);
  await sink.initializeState({
    checkpointId: restored.restored ? restore?.checkpointId : undefined,
    previousParallelism: restored.previousParallelism,
  });
  return { sink, keyed: restored.keyed, operator: restored.operator };
}

async function snapshot(blobs: FileBlobStore, a: Attempt, id: bigint): Promise<OperatorSubtaskState[]> {
  await a.sink.snapshotState(id);
  return [await writeOperatorState(blobs, "sink", 0, 1, encodeState(a.keyed, a.operator))];
}

async function visibleLines(dir: string): Promise<string[]> {
  const lines: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (name.startsWith(".")) continue;
    lines.push(...(await readFile(join(dir, name), "utf8")).trimEnd().split("\n"));
  }
  return lines;
}

describe("sink.exactly-once-file (two-phase commit)", () => {
  it("commits a pending file exactly once after a crash between pre-commit and commit, and drops in-progress data", async () => {
    const base = await tempDir();
    const out = join(base, "out");
    const blobs = new FileBlobStore(pathToFileURL(join(base, "storage")).href);

    const first = await startSink(blobs, out, 0, undefined);
    await first.sink.processBatch(["a", "b"]);
    const cp1 = await snapshot(blobs, first, 1n);
    await first.sink.notifyCheckpointComplete(1n);
    await first.sink.processBatch(["c", "d"]);
    const cp2 = await snapshot(blobs, first, 2n);
    // Pre-committed: pending, invisible.
    expect((await readdir(out)).filter((n) => n.endsWith(".pending"))).toHaveLength(1);
    expect(await visibleLines(out)).toEqual(["a", "b"]);
    await first.sink.processBatch(["lost"]);
    // Crash: checkpoint 2 completed at the coordinator, but the notification never reached the sink.
    await first.sink.close();
    expect((await readdir(out)).some((n) => n.endsWith(".inprogress"))).toBe(true);

    const second = await startSink(blobs, out, 1, { checkpointId: 2n, states: cp2 });
    expect(await visibleLines(out)).toEqual(["a", "b", "c", "d"]);
    expect((await readdir(out)).filter((n) => n.startsWith("."))).toEqual([]);
    // Idempotent: the late notification and a second restore of the same checkpoint change nothing.
    await second.sink.notifyCheckpointComplete(2n);
    await second.sink.close();
    const third = await startSink(blobs, out, 2, { checkpointId: 2n, states: cp2 });
    await third.sink.processBatch(["e"]);
    await third.sink.finish();
    const cp3 = await snapshot(blobs, third, 3n);
    await third.sink.notifyCheckpointComplete(3n);
    await third.sink.close();
    expect(await visibleLines(out)).toEqual(["a", "b", "c", "d", "e"]);
    expect(cp1[0]!.state).toBeDefined();
    expect(cp3[0]!.state).toBeDefined();
    for (const name of await readdir(out)) expect(name.startsWith(".")).toBe(false);
  });

  it("discards a pending file of a checkpoint that never completed", async () => {
    const base = await tempDir();
    const out = join(base, "out");
    const blobs = new FileBlobStore(pathToFileURL(join(base, "storage")).href);
    const first = await startSink(blobs, out, 0, undefined);
    await first.sink.processBatch(["kept"]);
    const cp1 = await snapshot(blobs, first, 1n);
    await first.sink.notifyCheckpointComplete(1n);
    await first.sink.processBatch(["replayed"]);
    await snapshot(blobs, first, 2n);
    await first.sink.close();
    // Checkpoint 2 did not complete: restore from 1; its pending file goes, its records get replayed.
    const second = await startSink(blobs, out, 1, { checkpointId: 1n, states: cp1 });
    expect(await readdir(out)).toHaveLength(1);
    expect(await visibleLines(out)).toEqual(["kept"]);
    await second.sink.close();
  });

  it("commits at end of input when the job takes no checkpoints", async () => {
    const base = await tempDir();
    const out = join(base, "out");
    const blobs = new FileBlobStore(pathToFileURL(join(base, "storage")).href);
    const a = await startSink(blobs, out, 0, undefined, false);
    await a.sink.processBatch([1, "two", { three: 3 }]);
    await a.sink.finish();
    await a.sink.close();
    expect(await visibleLines(out)).toEqual(["1", "two", '{"three":3}']);
  });
});
