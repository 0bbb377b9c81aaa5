import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { monotonicNow, sleep } from "../common/clock.ts";
import { InvalidArgumentError } from "../common/errors.ts";
import type { JobVertex, TaskDescriptor } from "../generated/records.ts";
import { waitUntil } from "../ha/testing.ts";
import { InjectedFailure } from "./operators/map-fail.ts";
import type { OperatorDefinition } from "./operators/operator.ts";
import { BUILT_IN_OPERATORS, OperatorRegistry } from "./operators/registry.ts";
import { fileSinkOutput } from "./operators/sink-file.ts";
import { runChain, type TaskContext } from "./task.ts";
import { vertex } from "./testing.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "vigil-runtime-test-"));
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

function start(task: TaskDescriptor, registry?: OperatorRegistry): Run {
  const reports: number[] = [];
  const controller = new AbortController();
  const context: TaskContext = {
    task,
    signal: controller.signal,
    storageDir: undefined,
    onRecords: (total) => reports.push(total),
  };
  const done = registry ? runChain(context, registry) : runChain(context);
  // Rejections are asserted by the tests; keep an early one from counting as unhandled.
  done.catch(() => {});
  return { done, reports, controller };
}

async function lines(path: string): Promise<number[]> {
  const text = await readFile(path, "utf8");
  return text === "" ? [] : text.trimEnd().split("\n").map(Number);
}

describe("runChain", () => {
  it("splits a sequence across subtasks completely and disjointly", async () => {
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

  it("gives a subtask with nothing to emit an empty output and finishes", async () => {
    const dir = await tempDir();
    const chain = [
      vertex("n", "source.sequence", { count: 1 }, 2),
      vertex("o", "sink.file", { path: pathToFileURL(dir).href }, 2),
    ];
    await start(descriptor(chain, 1, 2)).done;
    expect(await readFile(fileSinkOutput(dir, "job-1", "o", 1, 7n, 0), "utf8")).toBe("");
  });

  it("limits the rate per subtask", async () => {
    const dir = await tempDir();
    const chain = [
      vertex("n", "source.sequence", { count: 40, ratePerSecond: 100 }, 2),
      vertex("o", "sink.file", { path: dir }, 2),
    ];
    const began = monotonicNow();
    await start(descriptor(chain, 0, 2)).done;
    const elapsed = monotonicNow() - began;
    // 20 records for this subtask at 100/s: the last is due 190 ms after the first.
    expect(await lines(fileSinkOutput(dir, "job-1", "o", 0, 7n, 0))).toEqual(
      Array.from({ length: 20 }, (_, k) => 2 * k + 1),
    );
    expect(elapsed).toBeGreaterThanOrEqual(180);
    expect(elapsed).toBeLessThan(2000);
  });

  it("stops an unbounded source promptly on cancel, rejecting with the signal's reason", async () => {
    const run = start(
      descriptor([vertex("n", "source.sequence", { count: 0 }), vertex("o", "sink.discard")]),
    );
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    try {
      await waitUntil(() => run.reports.length >= 2, 2000, "two progress reports");
      // The loop yields to the event loop: timers (a TaskManager's heartbeats) keep running.
      expect(ticks).toBeGreaterThan(3);
    } finally {
      clearInterval(timer);
    }
    expect(run.reports[1]!).toBeGreaterThan(run.reports[0]!);
    const reason = new Error("cancelled by test");
    const abortedAt = monotonicNow();
    run.controller.abort(reason);
    await expect(run.done).rejects.toBe(reason);
    expect(monotonicNow() - abortedAt).toBeLessThan(100);
  });

  it("stops a rate-limited source promptly while it waits", async () => {
    const dir = await tempDir();
    const chain = [
      vertex("n", "source.sequence", { count: 0, ratePerSecond: 0.5 }),
      vertex("o", "sink.file", { path: dir }),
    ];
    const run = start(descriptor(chain));
    const output = fileSinkOutput(dir, "job-1", "o", 0, 7n, 0);
    await waitUntil(() => existsSync(output), 2000, "the sink's file");
    await sleep(20); // the first record went out at once; the next is due in 2 s
    const abortedAt = monotonicNow();
    run.controller.abort(new Error("stop"));
    await expect(run.done).rejects.toThrow("stop");
    expect(monotonicNow() - abortedAt).toBeLessThan(100);
    // The sink had opened its file; the cancel closed it without writing the buffered record.
    expect(await readFile(output, "utf8")).toBe("");
  });

  it("rejects at once with the reason when already cancelled", async () => {
    const controller = new AbortController();
    controller.abort(new Error("too late"));
    const context: TaskContext = {
      task: descriptor([vertex("n", "source.sequence", { count: 5 })]),
      signal: controller.signal,
      storageDir: undefined,
      onRecords: () => {},
    };
    await expect(runChain(context)).rejects.toThrow("too late");
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

  it("never fails map.fail when the source ends first", async () => {
    const chain = [
      vertex("n", "source.sequence", { count: 10 }),
      vertex("m", "map.fail", { afterRecords: 10 }),
      vertex("o", "sink.discard"),
    ];
    const run = start(descriptor(chain));
    await run.done;
    expect(run.reports.at(-1)).toBe(10);
  });

  it("refuses a chain that does not start with a source or has a sink in the middle", async () => {
    await expect(start(descriptor([vertex("o", "sink.discard")])).done).rejects.toThrow(
      "task job-1/o/0/0@7: vertex o: sink.discard is a sink; a chain starts with a source",
    );
    const middle = [
      vertex("n", "source.sequence", { count: 1 }),
      vertex("o", "sink.discard"),
      vertex("m", "map.fail", { afterRecords: 1 }),
    ];
    await expect(start(descriptor(middle)).done).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(start(descriptor([])).done).rejects.toThrow("the chain has no vertices");
  });

  describe("operator lifecycle", () => {
    const calls: string[] = [];
    const failing = { open: false, write: false };
    const probe: OperatorDefinition = {
      kind: "sink.probe",
      role: "sink",
      summary: "records lifecycle calls",
      configure: () => () => ({
        async open() {
          calls.push("open");
          if (failing.open) throw new Error("open failed");
        },
        async write(batch) {
          calls.push(`write ${batch.length}`);
          if (failing.write) throw new Error("write failed");
        },
        async finish() {
          calls.push("finish");
        },
        async close() {
          calls.push("close");
        },
      }),
    };
    const registry = new OperatorRegistry([...BUILT_IN_OPERATORS, probe]);
    const chain = [vertex("n", "source.sequence", { count: 3 }), vertex("p", "sink.probe")];
    afterEach(() => {
      calls.splice(0);
      failing.open = false;
      failing.write = false;
    });

    it("opens, writes, finishes and closes on success", async () => {
      await start(descriptor(chain), registry).done;
      expect(calls).toEqual(["open", "write 3", "finish", "close"]);
    });

    it("closes without finishing when a write fails, and rejects with the operator's error", async () => {
      failing.write = true;
      await expect(start(descriptor(chain), registry).done).rejects.toThrow("write failed");
      expect(calls).toEqual(["open", "write 3", "close"]);
    });

    it("closes an operator whose open failed", async () => {
      failing.open = true;
      await expect(start(descriptor(chain), registry).done).rejects.toThrow("open failed");
      expect(calls).toEqual(["open", "close"]);
    });
  });
});
