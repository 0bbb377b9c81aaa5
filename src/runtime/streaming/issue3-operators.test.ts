// The issue-3 operator kinds (source.sequence, map.fail, sink.file, sink.discard) on the streaming runtime:
// same configs and output files as the chain runtime they replace.
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { monotonicNow, sleep } from "../../common/clock.ts";
import type { JobVertex, TaskDescriptor } from "../../generated/records.ts";
import { waitUntil } from "../../ha/testing.ts";
import { FileBlobStore } from "../../storage/blob-store.ts";
import { vertex } from "../testing.ts";
import { InjectedFailure } from "./map-fail.ts";
import { builtInStreamOperators } from "./registry.ts";
import { fileSinkOutput } from "./sink-file.ts";
import { runStreamTask } from "./task.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "vigil-issue3-ops-"));
  dirs.push(dir);
  return dir;
}

function descriptor(chain: JobVertex[], subtask = 0, parallelism = 1, attempt = 0): TaskDescriptor {
  const head = chain[0]?.id ?? "none";
  return {
    jobId: "job-1",
    executionId: `job-1/${head}/${subtask}/${attempt}@7`,
    epoch: 7n,
    inputs: [],
    outputs: [],
    restore: [],
    restoredCheckpointId: 0n,
    subtask,
    parallelism,
    attempt,
    chain,
    slot: 0,
  };
}

interface Run {
  readonly done: Promise<void>;
  readonly reports: number[];
  readonly controller: AbortController;
}

function start(task: TaskDescriptor, blobsDir = tmpdir()): Run {
  const reports: number[] = [];
  const controller = new AbortController();
  const { done } = runStreamTask({
    task,
    signal: controller.signal,
    blobs: new FileBlobStore(pathToFileURL(blobsDir).href),
    functions: () => undefined,
    openInput: () => {
      throw new Error("no inputs in these tests");
    },
    openOutput: () => {
      throw new Error("no outputs in these tests");
    },
    ack: () => {},
    decline: () => {},
    checkpointing: false,
    onRecords: (total) => reports.push(total),
  });
  // Rejections are asserted by the tests; keep an early one from counting as unhandled.
  done.catch(() => {});
  return { done, reports, controller };
}

async function lines(path: string): Promise<number[]> {
  const text = await readFile(path, "utf8");
  return text === "" ? [] : text.trimEnd().split("\n").map(Number);
}

describe("issue-3 operator kinds on the streaming runtime", () => {
  it("are all in the streaming registry", () => {
    for (const kind of ["source.sequence", "map.fail", "sink.file", "sink.discard"]) {
      expect(builtInStreamOperators.get(kind)?.kind).toBe(kind);
    }
  });

  it("refuses the issue-3 config errors the same way", () => {
    expect(() =>
      builtInStreamOperators.configure(vertex("o", "sink.file", { path: "rel/dir" }), "vertex o"),
    ).toThrow(/vertex o: config\.path: "rel\/dir" is relative/);
    expect(() => builtInStreamOperators.configure(vertex("m", "map.fail", {}), "vertex m")).toThrow(
      /config\.afterRecords/,
    );
    expect(() =>
      builtInStreamOperators.configure(vertex("d", "sink.discard", { extra: 1 }), "vertex d"),
    ).toThrow(/extra/);
  });

  it("splits a sequence across subtasks into one sink.file file per subtask", async () => {
    const dir = await tempDir();
    const parallelism = 3;
    const count = 1000;
    const chain = [
      vertex("numbers", "source.sequence", { count }, parallelism),
      vertex("out", "sink.file", { path: dir }, parallelism),
    ];
    const runs = [0, 1, 2].map((i) => start(descriptor(chain, i, parallelism)));
    await Promise.all(runs.map((r) => r.done));
    const all: number[] = [];
    for (let i = 0; i < parallelism; i++) {
      const values = await lines(fileSinkOutput(dir, "job-1", "out", i, 7n, 0));
      expect(values.every((v) => (v - 1) % parallelism === i)).toBe(true);
      expect(runs[i]!.reports.at(-1)).toBe(values.length);
      all.push(...values);
    }
    expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, k) => k + 1));
  });

  it("gives a subtask with nothing to emit an empty sink.file file (file:// path)", async () => {
    const dir = await tempDir();
    const chain = [
      vertex("n", "source.sequence", { count: 1 }, 2),
      vertex("o", "sink.file", { path: pathToFileURL(dir).href }, 2),
    ];
    await start(descriptor(chain, 1, 2)).done;
    expect(await readFile(fileSinkOutput(dir, "job-1", "o", 1, 7n, 0), "utf8")).toBe("");
  });

  it("fails map.fail's attempts below failAttempts after afterRecords records, then passes", async () => {
    const dir = await tempDir();
    const chain = [
      vertex("n", "source.sequence", { count: 1000 }),
      vertex("m", "map.fail", { afterRecords: 300, failAttempts: 2 }),
      vertex("o", "sink.file", { path: dir }),
    ];
    for (const attempt of [0, 1]) {
      const run = start(descriptor(chain, 0, 1, attempt));
      await expect(run.done).rejects.toBeInstanceOf(InjectedFailure);
      await expect(run.done).rejects.toThrow(
        `map.fail: injected failure after 300 records (attempt ${attempt})`,
      );
    }
    await start(descriptor(chain, 0, 1, 2)).done;
    expect(await lines(fileSinkOutput(dir, "job-1", "o", 0, 7n, 2))).toEqual(
      Array.from({ length: 1000 }, (_, k) => k + 1),
    );
    expect((await readdir(join(dir, "job-1"))).sort()).toEqual([
      "o-0-epoch-7-attempt-0.txt",
      "o-0-epoch-7-attempt-1.txt",
      "o-0-epoch-7-attempt-2.txt",
    ]);
  });

  it("never fails map.fail when the source ends first; sink.discard drops everything", async () => {
    const chain = [
      vertex("n", "source.sequence", { count: 10 }),
      vertex("m", "map.fail", { afterRecords: 10 }),
      vertex("o", "sink.discard"),
    ];
    const run = start(descriptor(chain));
    await run.done;
    expect(run.reports.at(-1)).toBe(10);
  });

  it("stops an unbounded source into sink.discard promptly on cancel", async () => {
    const run = start(
      descriptor([vertex("n", "source.sequence", { count: 0 }), vertex("o", "sink.discard")]),
    );
    await waitUntil(() => run.reports.length >= 2, 2000, "two progress reports");
    const reason = new Error("cancelled by test");
    const abortedAt = monotonicNow();
    run.controller.abort(reason);
    await expect(run.done).rejects.toBe(reason);
    expect(monotonicNow() - abortedAt).toBeLessThan(100);
  });

  it("closes sink.file on cancel without writing what it buffered", async () => {
    const dir = await tempDir();
    const chain = [
      vertex("n", "source.sequence", { count: 0, ratePerSecond: 0.5 }),
      vertex("o", "sink.file", { path: dir }),
    ];
    const run = start(descriptor(chain));
    const output = fileSinkOutput(dir, "job-1", "o", 0, 7n, 0);
    await waitUntil(() => existsSync(output), 2000, "the sink's file");
    await sleep(20);
    run.controller.abort(new Error("stop"));
    await expect(run.done).rejects.toThrow("stop");
    expect(await readFile(output, "utf8")).toBe("");
  });
});
