// Finished tasks (Flink's checkpoints after tasks finished, FLIP-147): a FINISHED task counts as acknowledging
// with the states of its newest completed checkpoint, and once every task upstream of a running one finished,
// that task is triggered directly.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { codecs } from "../generated/records.ts";
import { MemoryCoordinator } from "../ha/memory/index.ts";
import { waitUntil } from "../ha/testing.ts";
import { CheckpointCoordinator } from "./coordinator.ts";
import type { CheckpointTask } from "./gateway.ts";
import { ackTask, type Fixture, fixture, idsOf, leaderOn } from "./testing.ts";

const cleanups: Array<() => Promise<void>> = [];
let memory: MemoryCoordinator | undefined;

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  memory?.close();
});

const SOURCE: CheckpointTask = {
  executionId: "src-0",
  subtask: 0,
  parallelism: 1,
  operatorUids: ["source"],
  isSource: true,
};
const SINK: CheckpointTask = {
  executionId: "sink-0",
  subtask: 0,
  parallelism: 1,
  operatorUids: ["sink"],
  isSource: false,
  upstream: ["src-0"],
};

async function setup(minPauseMs = 0): Promise<Fixture> {
  memory = new MemoryCoordinator();
  const dir = await mkdtemp(join(tmpdir(), "vigil-checkpoint-finished-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const leader = await leaderOn(memory, "jm-a");
  cleanups.push(leader.close);
  const f = fixture({
    session: leader.session,
    handles: leader.backend.store,
    storageUri: pathToFileURL(dir).href,
    config: { intervalMs: 20, maxConcurrent: 1, minPauseMs },
  });
  f.tasks = [SOURCE, SINK];
  cleanups.push(async () => {
    await f.coordinator.stop();
    await f.gateway.drained();
  });
  return f;
}

describe("CheckpointCoordinator: finished tasks", () => {
  it("counts a finished source as acknowledged with its last completed states and triggers the sink directly", async () => {
    // The pause leaves time to mark the source finished before checkpoint 2.
    const f = await setup(300);
    let sourceStates: Awaited<ReturnType<typeof ackTask>> = [];
    // Checkpoint 1: both tasks acknowledge; then the source finishes.
    f.gateway.onTrigger = async (task, id) => {
      if (id !== 1n) {
        // Later checkpoints: only the sink is triggered (the source finished), and it acknowledges.
        await ackTask(f, task, id);
        return;
      }
      sourceStates = await ackTask(f, SOURCE, id);
      await ackTask(f, SINK, id);
    };
    f.coordinator.start();
    await waitUntil(() => idsOf(f, "checkpoint-completed").includes(1n), 2_000);
    f.tasks = [{ ...SOURCE, finished: true }, SINK];
    f.coordinator.taskFinished("src-0");
    await waitUntil(() => idsOf(f, "checkpoint-completed").includes(2n), 2_000);
    await f.coordinator.stop();

    const triggered2 = f.gateway.of("trigger").filter((c) => c.checkpointId === 2n);
    expect(triggered2.map((c) => c.executionId)).toEqual(["sink-0"]);
    const metadata = await CheckpointCoordinator.latestForRestore(f.store, f.blobs);
    expect(metadata?.checkpointId).toBeGreaterThanOrEqual(2n);
    const source = metadata?.states.find((s) => s.operatorUid === "source");
    expect(source?.state?.uri).toBe(sourceStates[0]!.state!.uri);
    expect(codecs.CheckpointMetadata.encode(metadata!).byteLength).toBeGreaterThan(0);
  });

  it("a source finishing while a checkpoint waits for it completes that checkpoint with its last states", async () => {
    const f = await setup();
    let second = false;
    f.gateway.onTrigger = async (task, id) => {
      if (id === 1n) {
        await ackTask(f, SOURCE, id);
        await ackTask(f, SINK, id);
      } else if (task.executionId === "src-0") {
        second = true; // the source finishes instead of acknowledging; the sink acknowledges
        await ackTask(f, SINK, id);
      }
    };
    f.coordinator.start();
    await waitUntil(() => second, 2_000);
    expect(idsOf(f, "checkpoint-completed")).toEqual([1n]);
    f.coordinator.taskFinished("src-0");
    await waitUntil(() => idsOf(f, "checkpoint-completed").includes(2n), 2_000);
    expect(idsOf(f, "checkpoint-aborted")).toEqual([]);
  });

  it("aborts a checkpoint when a task finishes before any completed checkpoint included it", async () => {
    const f = await setup();
    f.gateway.onTrigger = async () => {
      f.coordinator.taskFinished("src-0");
    };
    f.coordinator.start();
    await waitUntil(() => idsOf(f, "checkpoint-aborted").length >= 1, 2_000);
    expect(f.events.of("checkpoint-aborted")[0]?.reason).toBe(
      "task src-0 finished before any completed checkpoint included its state",
    );
    expect(idsOf(f, "checkpoint-completed")).toEqual([]);
  });
});
