import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { monotonicNow, sleep } from "../../common/clock.ts";
import { CancelledError } from "../../common/errors.ts";
import type { OperatorSubtaskState, TaskDescriptor } from "../../generated/records.ts";
import { waitUntil } from "../../ha/testing.ts";
import { decodeState } from "../../state/snapshot.ts";
import { FileBlobStore } from "../../storage/blob-store.ts";
import { vertex } from "../testing.ts";
import type { StreamElement } from "./elements.ts";
import { BaseOperator, type StreamOperatorDefinition } from "./operators.ts";
import { BUILT_IN_STREAM_OPERATORS, StreamOperatorRegistry } from "./registry.ts";
import { runStreamTask, type SnapshotKind } from "./task.ts";
import { createMemoryChannel } from "./testing.ts";
import { type CompletedCheckpoint, LocalJob, linearJobTasks, type Stage } from "./testing-job.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "vigil-stream-task-test-"));
  dirs.push(dir);
  return dir;
}

/** test.probe: passes records on, logs them (and snapshots, closes) to `log`, keeps them in list state "seen". */
function probeRegistry(log: unknown[]): StreamOperatorRegistry {
  const probe: StreamOperatorDefinition = {
    kind: "test.probe",
    role: "operator",
    summary: "test aid",
    configure: () => () =>
      new (class extends BaseOperator {
        processBatch(records: readonly unknown[]): void {
          const seen = this.context.operatorState.list<unknown>("seen");
          for (const r of records) {
            log.push(r);
            seen.add(r);
            this.context.output.collect(r);
          }
        }
        override snapshotState(id: bigint): void {
          log.push(`snapshot:${id}`);
        }
        override async close(): Promise<void> {
          log.push("closed");
        }
      })(),
  };
  return new StreamOperatorRegistry([...BUILT_IN_STREAM_OPERATORS, probe]);
}

function probeTask(producers: number): TaskDescriptor {
  return {
    jobId: "job-1",
    executionId: "job-1/probe/0/0@1",
    subtask: 0,
    parallelism: 1,
    attempt: 0,
    chain: [vertex("probe", "test.probe")],
    slot: 0,
    epoch: 1n,
    inputs: [
      {
        upstreamVertex: "up",
        targetVertex: "probe",
        partitioning: "PARTITIONING_REBALANCE",
        producers: Array.from({ length: producers }, (_, i) => ({
          executionId: `job-1/up/${i}/0@1`,
          taskmanagerAddress: "local",
          subtask: i,
        })),
      },
    ],
    outputs: [
      { sourceVertex: "probe", downstreamVertex: "down", partitioning: "PARTITIONING_FORWARD", consumers: 1 },
    ],
    restore: [],
    restoredCheckpointId: 0n,
  };
}

const barrier = (id: bigint): StreamElement => ({
  kind: "barrier",
  checkpointId: id,
  timestampMs: 0,
  savepoint: false,
});

describe("runStreamTask: barrier alignment", () => {
  it("blocks a channel after its barrier until every channel delivered it; end counts as a barrier", async () => {
    const base = await tempDir();
    const blobs = new FileBlobStore(pathToFileURL(base).href);
    const log: unknown[] = [];
    const inputs = [createMemoryChannel(), createMemoryChannel()];
    const output = createMemoryChannel(100);
    const acks = new Map<bigint, OperatorSubtaskState[]>();
    const controller = new AbortController();
    const signal = controller.signal;
    const task = runStreamTask({
      task: probeTask(2),
      signal,
      blobs,
      functions: () => undefined,
      openInput: (_gate, producer) => inputs[producer.subtask]!.input,
      openOutput: () => output.output,
      ack: (id, states) => acks.set(id, states),
      decline: (id, reason) => {
        throw new Error(`unexpected decline of ${id}: ${reason}`);
      },
      checkpointing: false,
      operators: probeRegistry(log),
    });
    task.done.catch(() => {});
    const [a, b] = [inputs[0]!.output, inputs[1]!.output];
    await a.send({ kind: "records", records: [1, 2] }, signal);
    await a.send(barrier(1n), signal);
    await a.send({ kind: "records", records: [100] }, signal);
    await b.send({ kind: "records", records: [3] }, signal);
    await waitUntil(() => log.includes(3), 2_000, "record 3 processed");
    await sleep(20);
    // Channel a is blocked behind barrier 1: its record 100 waits in the channel, unread.
    expect(log).not.toContain(100);
    expect(inputs[0]!.queued).toBe(1);
    expect(acks.size).toBe(0);

    await b.send(barrier(1n), signal);
    await waitUntil(() => acks.has(1n) && log.includes(100), 2_000, "checkpoint 1 acked and 100 processed");
    expect(log.indexOf("snapshot:1")).toBeLessThan(log.indexOf(100));
    const [state] = acks.get(1n)!;
    expect(state?.operatorUid).toBe("probe");
    const decoded = decodeState(await blobs.get(state!.state!), "test");
    const seen = decoded.operator.find(([name]) => name === "seen")?.[2];
    expect((seen as number[]).sort()).toEqual([1, 2, 3]);

    // "end" on b counts as barrier 2 there; a's records after its barrier 2 wait for the snapshot.
    await a.send(barrier(2n), signal);
    await a.send({ kind: "records", records: [200] }, signal);
    await b.send({ kind: "end" }, signal);
    await waitUntil(() => acks.has(2n), 2_000, "checkpoint 2 acked");
    await a.send({ kind: "end" }, signal);
    await task.done;
    expect(log.indexOf("snapshot:2")).toBeLessThan(log.indexOf(200));
    expect(log[log.length - 1]).toBe("closed");

    // Downstream sees the barriers in the same place relative to the records.
    const out: StreamElement[] = [];
    for (let e = await output.input.next(signal); ; e = await output.input.next(signal)) {
      out.push(e);
      if (e.kind === "end") break;
    }
    const flat = out.flatMap((e) =>
      e.kind === "records" ? e.records : [`${e.kind}${e.kind === "barrier" ? e.checkpointId : ""}`],
    );
    expect(flat.indexOf("barrier1")).toBeLessThan(flat.indexOf(100));
    expect(flat.indexOf("barrier1")).toBeGreaterThan(
      Math.max(flat.indexOf(1), flat.indexOf(2), flat.indexOf(3)),
    );
    expect(flat.slice(-3)).toEqual(["barrier2", 200, "end"]);
  });
});

// ---- exactly-once across a kill and a restore ----

const COUNT = 4000;
const KEYS = 7;

interface TestProcessContext {
  readonly key: unknown;
  state<T>(name: string): { value(): T | undefined; update(value: T): void };
}

function keyedCountFunctions(uid: string): unknown {
  if (uid === "count:key") return (v: number) => v % KEYS;
  if (uid === "count") {
    return (_v: number, ctx: TestProcessContext, out: { collect(r: unknown): void }) => {
      const seq = ctx.state<number>("seq");
      const n = (seq.value() ?? 0) + 1;
      seq.update(n);
      out.collect(`${String(ctx.key)},${n}`);
    };
  }
  return undefined;
}

function keyedCountStages(out: string, sources: number, counters: number, rate: number): Stage[] {
  return [
    {
      chain: [vertex("numbers", "source.sequence", { count: COUNT, ratePerSecond: rate })],
      parallelism: sources,
    },
    {
      chain: [
        vertex("count", "user.keyed-process", { keySelector: "count:key" }),
        vertex("out", "sink.exactly-once-file", { path: out }),
      ],
      parallelism: counters,
      partitioning: "PARTITIONING_HASH",
    },
  ];
}

function emitted(job: LocalJob): number {
  return job.tasks.filter((t) => t.descriptor.chain[0]!.id === "numbers").reduce((n, t) => n + t.records, 0);
}

async function checkpoint(
  job: LocalJob,
  id: bigint,
  kind: SnapshotKind = "checkpoint",
): Promise<CompletedCheckpoint> {
  job.trigger(id, kind);
  let done: CompletedCheckpoint | undefined;
  await waitUntil(
    () => {
      if (job.failure !== undefined) throw job.failure;
      done = job.acknowledged(id);
      return done !== undefined;
    },
    5_000,
    `checkpoint ${id} acknowledged`,
  );
  return done!;
}

/**
 * Checkpoints every few ms until every task finished (each waits for a checkpoint after its end of input);
 * notifications reach the non-source tasks late, so a sink sees "end" before it may commit.
 */
async function runToEnd(job: LocalJob, firstId: bigint): Promise<void> {
  for (let id = firstId; !job.allDone; id++) {
    if (job.failure !== undefined) throw job.failure;
    await sleep(10);
    const cp = await checkpoint(job, id);
    job.notifyComplete(cp.checkpointId, 15);
  }
  await job.done();
}

async function committedLines(
  dir: string,
): Promise<{ visible: string[]; hidden: string[]; lines: string[] }> {
  const names = await readdir(dir);
  const visible = names.filter((n) => !n.startsWith("."));
  const lines: string[] = [];
  for (const name of visible) {
    const text = await readFile(join(dir, name), "utf8");
    if (text !== "") lines.push(...text.trimEnd().split("\n"));
  }
  return { visible, hidden: names.filter((n) => n.startsWith(".")), lines };
}

function expectExactlyOnce(lines: readonly string[]): void {
  const byKey = new Map<number, number[]>();
  for (const line of lines) {
    const [key, seq] = line.split(",").map(Number);
    byKey.set(key!, [...(byKey.get(key!) ?? []), seq!]);
  }
  for (let key = 0; key < KEYS; key++) {
    let expected = 0;
    for (let v = 1; v <= COUNT; v++) if (v % KEYS === key) expected++;
    const seqs = (byKey.get(key) ?? []).sort((x, y) => x - y);
    expect(seqs, `key ${key}`).toEqual(Array.from({ length: expected }, (_, i) => i + 1));
  }
  expect(lines).toHaveLength(COUNT);
}

describe("runStreamTask: exactly-once keyed count", () => {
  it.each([
    { name: "same parallelism", sources: [2, 2], counters: [2, 2] },
    { name: "rescaled sources 2→1 and keyed state 2→3", sources: [2, 1], counters: [2, 3] },
  ])("survives a kill after a pre-commit and a restore ($name)", async ({ sources, counters }) => {
    const base = await tempDir();
    const out = join(base, "out");
    const blobs = new FileBlobStore(pathToFileURL(join(base, "storage")).href);
    const common = { blobs, functions: keyedCountFunctions, checkpointing: true, capacity: 4 };

    const first = new LocalJob({
      ...common,
      tasks: linearJobTasks(keyedCountStages(out, sources[0]!, counters[0]!, 4000)),
    });
    await waitUntil(() => emitted(first) >= 400, 5_000, "400 records emitted");
    first.notifyComplete((await checkpoint(first, 1n)).checkpointId);
    await waitUntil(() => emitted(first) >= 1500, 5_000, "1500 records emitted");
    const cp2 = await checkpoint(first, 2n);
    first.notifyComplete(cp2.checkpointId);
    await waitUntil(() => emitted(first) >= 2500, 5_000, "2500 records emitted");
    // Checkpoint 3 is pre-committed everywhere but never completes: the job dies before that.
    await checkpoint(first, 3n);
    await first.cancel();
    const killed = await committedLines(out);
    expect(killed.hidden.some((n) => n.endsWith(".pending"))).toBe(true);
    expect(killed.lines.length).toBeGreaterThan(0);
    // The keyed counters' state was not empty: the restore below really restores something.
    expect(cp2.states.filter((s) => s.operatorUid === "count").every((s) => s.state !== undefined)).toBe(
      true,
    );

    const second = new LocalJob({
      ...common,
      tasks: linearJobTasks(keyedCountStages(out, sources[1]!, counters[1]!, 20_000), {
        attempt: 1,
        restore: cp2,
      }),
    });
    await runToEnd(second, 4n);
    const result = await committedLines(out);
    expect(result.hidden).toEqual([]);
    expectExactlyOnce(result.lines);
  });
});

describe("runStreamTask: stop-with-savepoint", () => {
  it("sources emit nothing after its barrier, resume when it aborts, end once it completed; a restore from it is exactly-once", async () => {
    const base = await tempDir();
    const out = join(base, "out");
    const blobs = new FileBlobStore(pathToFileURL(join(base, "storage")).href);
    const common = { blobs, functions: keyedCountFunctions, checkpointing: true, capacity: 4 };
    const first = new LocalJob({ ...common, tasks: linearJobTasks(keyedCountStages(out, 2, 2, 4000)) });
    await waitUntil(() => emitted(first) >= 400, 5_000, "400 records emitted");

    await checkpoint(first, 1n, "stop-savepoint");
    const stoppedAt = emitted(first); // progress reports lag: at most this many
    await sleep(100);
    first.abort(1n); // the savepoint failed: the job goes on
    await waitUntil(() => emitted(first) >= stoppedAt + 400, 5_000, "400 more records after the abort");

    const savepoint = await checkpoint(first, 2n, "stop-savepoint");
    await sleep(100);
    expect(first.allDone).toBe(false); // the stopped sources wait for the savepoint to complete
    first.notifyComplete(2n, 15);
    await first.done();
    // Everything emitted was committed (the sinks committed on the savepoint, and nothing came after its
    // barrier: that would sit uncommitted in hidden files).
    const atStop = await committedLines(out);
    expect(atStop.hidden).toEqual([]);
    expect(atStop.lines).toHaveLength(emitted(first));
    expect(emitted(first)).toBeLessThan(COUNT);

    const resumed = new LocalJob({
      ...common,
      tasks: linearJobTasks(keyedCountStages(out, 2, 2, 20_000), { jobId: "job-2", restore: savepoint }),
    });
    await runToEnd(resumed, 3n);
    const result = await committedLines(out);
    expect(result.hidden).toEqual([]);
    expectExactlyOnce(result.lines);
  });
});

describe("runStreamTask: bounded jobs and cancellation", () => {
  it("runs source.files → rebalance → sink.print to the end without checkpoints", async () => {
    const base = await tempDir();
    const input = join(base, "in");
    const { mkdir, writeFile } = await import("node:fs/promises");
    await mkdir(input);
    const expected: string[] = [];
    for (let f = 0; f < 5; f++) {
      const lines = Array.from({ length: 300 + f }, (_, i) => `f${f} line ${i}`);
      expected.push(...lines);
      await writeFile(join(input, `file-${f}.txt`), `${lines.join("\r\n")}\n`);
    }
    await writeFile(join(input, ".hidden"), "skipped\n");
    const printed: string[] = [];
    const job = new LocalJob({
      tasks: linearJobTasks([
        { chain: [vertex("lines", "source.files", { path: input })], parallelism: 2 },
        {
          chain: [vertex("print", "sink.print", { identifier: "lines" })],
          parallelism: 1,
          partitioning: "PARTITIONING_REBALANCE",
        },
      ]),
      blobs: new FileBlobStore(pathToFileURL(join(base, "storage")).href),
      functions: () => undefined,
      checkpointing: false,
      stdout: (text) => printed.push(...text.trimEnd().split("\n")),
    });
    await job.done();
    expect(printed.every((l) => l.startsWith("lines> "))).toBe(true);
    expect(printed.map((l) => l.slice("lines> ".length)).sort()).toEqual(expected.sort());
  });

  it("runs map, filter, flat-map, then keyed sum and reduce", async () => {
    const base = await tempDir();
    const functions = new Map<string, unknown>([
      ["double", (v: number) => v * 2],
      ["even-tens", (v: number) => v % 20 !== 0],
      [
        "split",
        (v: number) => [
          { k: v % 3, n: 1 },
          { k: v % 3, n: v },
        ],
      ],
      ["sum:key", (r: { k: number }) => r.k],
      ["max", (a: { k: number; n: number }, b: { k: number; n: number }) => (a.n >= b.n ? a : b)],
      ["max:key", (r: { k: number }) => r.k],
    ]);
    const printed: string[] = [];
    const job = new LocalJob({
      tasks: linearJobTasks([
        {
          chain: [
            vertex("numbers", "source.sequence", { count: 100 }),
            vertex("double", "user.map"),
            vertex("even-tens", "user.filter"),
            vertex("split", "user.flat-map"),
          ],
          parallelism: 2,
        },
        {
          chain: [vertex("sum", "user.sum", { field: "n", keySelector: "sum:key" })],
          parallelism: 3,
          partitioning: "PARTITIONING_HASH",
        },
        { chain: [vertex("max", "user.reduce")], parallelism: 2, partitioning: "PARTITIONING_HASH" },
        { chain: [vertex("print", "sink.print")], parallelism: 1, partitioning: "PARTITIONING_REBALANCE" },
      ]),
      blobs: new FileBlobStore(pathToFileURL(base).href),
      functions: (uid) => functions.get(uid),
      checkpointing: false,
      stdout: (text) => printed.push(...text.trimEnd().split("\n")),
    });
    await job.done();
    // Per key k: the final running sum is the largest, so the reduce (max by n) ends at it.
    const finals = new Map<number, number>();
    for (const line of printed) {
      const { k, n } = JSON.parse(line) as { k: number; n: number };
      finals.set(k, Math.max(finals.get(k) ?? 0, n));
    }
    const expected = new Map<number, number>();
    for (let v = 1; v <= 100; v++) {
      const d = v * 2;
      if (d % 20 === 0) continue;
      expected.set(d % 3, (expected.get(d % 3) ?? 0) + 1 + d);
    }
    expect(finals).toEqual(expected);
  });

  it.each([
    ["blocked on backpressure", { count: 0 }, false],
    ["sleeping in a rate-limited source", { count: 0, ratePerSecond: 0.5 }, false],
    ["waiting for input", { count: 0 }, true],
  ])(
    "stops within 100 ms when cancelled while %s, after operator code stopped",
    async (_name, config, consumer) => {
      const base = await tempDir();
      const log: unknown[] = [];
      const channel = createMemoryChannel(2);
      const controller = new AbortController();
      const upstream: TaskDescriptor = {
        ...probeTask(1),
        executionId: "job-1/up/0/0@1",
        chain: [vertex("up", "source.sequence", config), vertex("probe", "test.probe")],
        inputs: [],
      };
      const task = runStreamTask({
        task: consumer ? probeTask(1) : upstream,
        signal: controller.signal,
        blobs: new FileBlobStore(pathToFileURL(base).href),
        functions: () => undefined,
        openInput: () => channel.input,
        openOutput: () => channel.output,
        ack: () => {},
        decline: () => {},
        checkpointing: true,
        operators: probeRegistry(log),
      });
      task.done.catch(() => {});
      if (consumer || "ratePerSecond" in config) {
        await sleep(30);
      } else {
        await waitUntil(() => channel.queued === 2, 2_000, "the channel is full");
      }
      const startedAt = monotonicNow();
      controller.abort(new CancelledError("test cancel"));
      await expect(task.done).rejects.toBeInstanceOf(CancelledError);
      expect(monotonicNow() - startedAt).toBeLessThan(100);
      expect(log[log.length - 1]).toBe("closed");
    },
  );
});
