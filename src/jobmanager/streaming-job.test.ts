// The JobManager side of the streaming runtime: task descriptors with input gates and result partitions,
// periodic checkpoints through the TaskManagers, strict restore on restart, checkpoint cleanup at the end,
// and application artifacts at submission.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../common/errors.ts";
import type { JobGraph } from "../generated/records.ts";
import { storeKeys } from "../ha/keys.ts";
import { CompletedCheckpointStore } from "../ha/stores/completed-checkpoint-store.ts";
import { JobGraphStore } from "../ha/stores/job-graph-store.ts";
import { waitUntil } from "../ha/testing.ts";
import { edge, jobGraph, vertex } from "../runtime/testing.ts";
import { FileBlobStore } from "../storage/blob-store.ts";
import { readSavepointMetadata, writeSavepointDirectory } from "../checkpoint/savepoint-directory.ts";
import { TestCluster, type TestJobManager, waitUntilAsync } from "./testing.ts";

let cluster: TestCluster | undefined;
let dir: string | undefined;

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function start(slots: number): Promise<TestJobManager> {
  dir = await mkdtemp(join(tmpdir(), "vigil-jm-streaming-"));
  cluster = new TestCluster({ storageDir: pathToFileURL(dir).href });
  const jm = await cluster.startJobManager("jm-a");
  await waitUntil(() => jm.events.of("published").length === 1);
  await cluster.startTaskManager("tm-1", slots);
  await cluster.startTaskManager("tm-2", slots);
  await waitUntil(() => jm.events.of("taskmanager-registered").length === 2);
  return jm;
}

const states = (jm: TestJobManager, job: string): string[] =>
  jm.events
    .of("job-state")
    .filter((e) => e.job === job)
    .map((e) => String(e.state));

/** source (2) -rebalance-> map (3) -forward-> sink (3), with `config` as job config. */
function exchangeGraph(jobId: string, config: object): JobGraph {
  return jobGraph(
    [
      vertex("src", "source.sequence", { count: 0 }, 2),
      vertex("map", "map.fail", { afterRecords: 1_000 }, 3),
      vertex("out", "sink.discard", {}, 3),
    ],
    [edge("src", "map", "PARTITIONING_REBALANCE"), edge("map", "out")],
    JSON.stringify(config),
    jobId,
  );
}

const deployed = () => [...cluster!.taskManagers.values()].flatMap((tm) => tm.descriptors());

describe("JobManager: streaming jobs", () => {
  it("deploys chains with input gates naming every producer and result partitions sized by the consumers", async () => {
    const jm = await start(3);
    const graph = exchangeGraph("x1", { restartStrategy: { type: "none" } });
    await jm.core.dispatcher.submitJob({ graph });
    await waitUntil(() => states(jm, "x1").includes("RUNNING"));
    const tasks = deployed();
    expect(tasks).toHaveLength(5);
    const sources = tasks.filter((t) => t.chain[0]!.id === "src").sort((a, b) => a.subtask - b.subtask);
    const maps = tasks.filter((t) => t.chain[0]!.id === "map");
    expect(maps.map((t) => t.chain.map((v) => v.id))).toEqual([
      ["map", "out"],
      ["map", "out"],
      ["map", "out"],
    ]);
    for (const s of sources) {
      expect(s.inputs).toEqual([]);
      expect(s.outputs).toEqual([
        {
          sourceVertex: "src",
          downstreamVertex: "map",
          partitioning: "PARTITIONING_REBALANCE",
          consumers: 3,
        },
      ]);
      expect(s.jobGraph).toEqual(graph);
      expect(s.restoredCheckpointId).toBe(0n);
    }
    const address = (executionId: string) =>
      [...cluster!.taskManagers.values()].find((tm) => tm.tasks.has(executionId))!.address;
    for (const m of maps) {
      expect(m.outputs).toEqual([]);
      expect(m.inputs).toEqual([
        {
          upstreamVertex: "src",
          targetVertex: "map",
          partitioning: "PARTITIONING_REBALANCE",
          producers: sources.map((s) => ({
            executionId: s.executionId,
            taskmanagerAddress: address(s.executionId),
            subtask: s.subtask,
          })),
        },
      ]);
    }
  });

  it("checkpoints periodically, restores the latest checkpoint on restart, and removes checkpoints when cancelled", async () => {
    const jm = await start(3);
    const config = {
      restartStrategy: { type: "fixed-delay", attempts: 3, delayMs: 10 },
      checkpointing: { intervalMs: 20 },
    };
    await jm.core.dispatcher.submitJob({ graph: exchangeGraph("c1", config) });
    await waitUntil(() => jm.events.of("checkpoint-completed").length >= 2, 3_000);
    const notified = [...cluster!.taskManagers.values()].flatMap((tm) =>
      tm.commands.filter((c) => c.kind === "notify"),
    );
    expect(new Set(notified.map((c) => c.executionId)).size).toBe(5);
    const triggered = [...cluster!.taskManagers.values()].flatMap((tm) =>
      tm.commands.filter((c) => c.kind === "trigger"),
    );
    expect(triggered.every((c) => c.executionId.startsWith("c1/src/"))).toBe(true);

    // A task fails: the next attempt restores every operator's state of the latest completed checkpoint.
    const victim = [...cluster!.taskManagers.values()].find((tm) => tm.running().length > 0)!;
    victim.fail(victim.running()[0]!);
    await waitUntil(() => deployed().some((t) => t.attempt === 1 && t.restoredCheckpointId > 0n), 3_000);
    const store = new CompletedCheckpointStore(jm.core.haBackend.store, undefined, "c1", 1);
    const retried = deployed().filter((t) => t.attempt === 1);
    for (const t of retried) {
      expect(t.restoredCheckpointId).toBeGreaterThan(0n);
      expect(new Set(t.restore.map((s) => s.operatorUid))).toEqual(new Set(t.chain.map((v) => v.id)));
      // Every subtask's state of the chain's operators (a rescaled restore picks its share).
      expect(t.restore).toHaveLength(t.chain.length * t.parallelism);
    }
    expect(await store.latest()).toBeDefined();

    await jm.core.dispatcher.cancelJob({ jobId: "c1" });
    await waitUntil(() => states(jm, "c1").includes("CANCELED"), 3_000);
    await waitUntilAsync(
      async () =>
        (await store.all()).length === 0 &&
        (await jm.core.haBackend.store.get(storeKeys.checkpointCounter("c1"))) === undefined,
      3_000,
      "the checkpoints and the counter of c1 to be removed",
    );
    const metadataFiles = (await new FileBlobStore(pathToFileURL(dir!).href).list()).filter((n) =>
      n.includes("checkpoint-c1-"),
    );
    expect(metadataFiles).toEqual([]);
  });

  it("never starts empty when the latest checkpoint cannot be read: the attempt fails loudly", async () => {
    const jm = await start(3);
    const config = {
      restartStrategy: { type: "fixed-delay", attempts: 2, delayMs: 10 },
      checkpointing: { intervalMs: 20 },
    };
    await jm.core.dispatcher.submitJob({ graph: exchangeGraph("r1", config) });
    await waitUntil(() => jm.events.of("checkpoint-completed").length >= 1, 3_000);
    const store = new CompletedCheckpointStore(jm.core.haBackend.store, undefined, "r1", 1);
    // Stop checkpointing from adding more, then corrupt the latest metadata and fail a task.
    for (const tm of cluster!.taskManagers.values()) tm.acknowledgeCheckpoints = false;
    // One checkpoint at a time: once the next one is triggered (never acknowledged now), none completes.
    const triggered = jm.events.of("checkpoint-triggered").length;
    await waitUntil(() => jm.events.of("checkpoint-triggered").length > triggered, 3_000);
    const latest = (await store.latest())!;
    await writeFile(fileURLToPath(latest.metadata!.uri), "garbage");
    const victim = [...cluster!.taskManagers.values()].find((tm) => tm.running().length > 0)!;
    victim.fail(victim.running()[0]!);
    // Both restarts fail at the restore, before any slot or deployment; then no restart is left.
    await waitUntil(() => states(jm, "r1").includes("FAILED"), 3_000);
    expect(deployed().some((t) => t.attempt === 1)).toBe(false);
    const job = await jm.core.dispatcher.listJobs({});
    expect(job.jobs.find((j) => j.jobId === "r1")?.error).toMatch(
      /^cannot restore from the latest completed checkpoint: .*r1/,
    );
  });
});

describe("JobManager: savepoints", () => {
  const config = { restartStrategy: { type: "none" }, checkpointing: { intervalMs: 20 } };
  const fromSavepoint = (graph: JobGraph, path: string, allowNonRestoredState = false): JobGraph => ({
    ...graph,
    savepointRestore: { path, allowNonRestoredState },
  });

  it("takes a savepoint, stops with one, and a new job starts from it with later checkpoint ids", async () => {
    const jm = await start(3);
    await jm.core.dispatcher.submitJob({ graph: exchangeGraph("s1", config) });
    await waitUntil(() => jm.events.of("checkpoint-completed").length >= 1, 3_000);

    const taken = await jm.core.dispatcher.triggerSavepoint({ jobId: "s1", targetDirectory: "" });
    expect(taken.path.startsWith(join(dir!, "savepoints", "savepoint-s1-"))).toBe(true);
    expect(taken.state).toBe("JOB_STATE_RUNNING");
    const { metadata } = await readSavepointMetadata(taken.path);
    expect(new Set(metadata.states.map((s) => s.operatorUid))).toEqual(new Set(["src", "map", "out"]));

    const mine = join(dir!, "mine");
    const stopped = await jm.core.dispatcher.stopJob({ jobId: "s1", targetDirectory: mine });
    expect(stopped.path.startsWith(join(mine, "savepoint-s1-"))).toBe(true);
    const store = new CompletedCheckpointStore(jm.core.haBackend.store, undefined, "s1", 1);
    expect((await store.latest())?.checkpointId).toBe(stopped.checkpointId); // the job's latest checkpoint
    const stopTriggers = jm.events.of("checkpoint-triggered").filter((e) => e.job === "s1");
    expect(stopTriggers.at(-1)?.checkpoint).toBe(stopped.checkpointId); // nothing after it
    // The stopped sources end once notified; the fake TaskManagers end every task as the runtime would.
    for (const tm of cluster!.taskManagers.values()) for (const id of tm.running()) tm.finish(id);
    await waitUntil(() => states(jm, "s1").includes("FINISHED"), 3_000);
    await expect(jm.core.dispatcher.stopJob({ jobId: "s1", targetDirectory: mine })).rejects.toThrow(
      "job s1 is FINISHED; only a running job takes a savepoint",
    );

    await jm.core.dispatcher.submitJob({ graph: fromSavepoint(exchangeGraph("s2", config), stopped.path) });
    await waitUntil(() => deployed().some((t) => t.jobId === "s2"), 3_000);
    for (const t of deployed().filter((t) => t.jobId === "s2")) {
      expect(t.restoredCheckpointId).toBe(stopped.checkpointId);
    }
    await waitUntil(() => jm.events.of("checkpoint-completed").some((e) => e.job === "s2"), 3_000);
    const first = jm.events.of("checkpoint-triggered").find((e) => e.job === "s2")!;
    expect(BigInt(first.checkpoint as bigint)).toBeGreaterThan(stopped.checkpointId);
    // Resubmitting the same submission is idempotent (the leader's import does not make it "different").
    const again = await jm.core.dispatcher.submitJob({
      graph: fromSavepoint(exchangeGraph("s2", config), stopped.path),
    });
    expect(again.alreadySubmitted).toBe(true);
  });

  it("refuses a savepoint it cannot use, naming why, and stores nothing", async () => {
    const jm = await start(3);
    const blobs = new FileBlobStore(pathToFileURL(dir!).href);
    const graphs = new JobGraphStore(jm.core.haBackend.store, blobs);
    const missing = join(dir!, "no-such-savepoint");
    await expect(
      jm.core.dispatcher.submitJob({ graph: fromSavepoint(exchangeGraph("b1", config), missing) }),
    ).rejects.toThrow(`savepoint ${JSON.stringify(missing)}: does not exist`);

    // A savepoint with state of an operator the new job does not have.
    const state = await blobs.put("state", new TextEncoder().encode("counts"));
    const path = await writeSavepointDirectory(
      blobs,
      {
        version: 1,
        jobId: "old",
        checkpointId: 9n,
        triggeredAtMs: 0n,
        savepoint: true,
        states: [{ operatorUid: "gone", subtask: 0, parallelism: 1, state }],
      },
      join(dir!, "savepoints"),
    );
    const before = await blobs.list();
    await expect(
      jm.core.dispatcher.submitJob({ graph: fromSavepoint(exchangeGraph("b2", config), path) }),
    ).rejects.toThrow(
      /holds state of operator\(s\) "gone", which the job does not have .* --allow-non-restored-state/,
    );
    expect(await blobs.list()).toEqual(before);
    expect(await graphs.jobIds()).toEqual([]);
    await jm.core.dispatcher.submitJob({ graph: fromSavepoint(exchangeGraph("b3", config), path, true) });
    await waitUntil(() => deployed().some((t) => t.jobId === "b3" && t.restoredCheckpointId === 9n), 3_000);
    await expect(jm.core.dispatcher.triggerSavepoint({ jobId: "nope", targetDirectory: "" })).rejects.toThrow(
      "job nope: not found",
    );
    await expect(
      jm.core.dispatcher.triggerSavepoint({ jobId: "b3", targetDirectory: "relative" }),
    ).rejects.toThrow('directory "relative" is not an absolute path');
  });
});

describe("Dispatcher: application artifacts", () => {
  const userGraph = (jobId: string) =>
    jobGraph(
      [
        vertex("src", "source.sequence", { count: 0 }),
        vertex("m", "user.map", {}),
        vertex("out", "sink.discard"),
      ],
      [edge("src", "m"), edge("m", "out")],
      JSON.stringify({ restartStrategy: { type: "none" } }),
      jobId,
    );

  it("refuses user code without an artifact", async () => {
    const jm = await start(3);
    await expect(jm.core.dispatcher.submitJob({ graph: userGraph("u1") })).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(jm.core.dispatcher.submitJob({ graph: userGraph("u1") })).rejects.toThrow(
      "vertex m is user code: submit it with vigil run",
    );
  });

  it("writes the artifact to file storage before the graph, which points at it", async () => {
    const jm = await start(3);
    const bytes = new TextEncoder().encode("export default () => {};");
    const answer = await jm.core.dispatcher.submitJob({ graph: userGraph("u2"), artifact: bytes });
    expect(answer.alreadySubmitted).toBe(false);
    const blobs = new FileBlobStore(pathToFileURL(dir!).href);
    const stored = (await new JobGraphStore(jm.core.haBackend.store, blobs).getEntry("u2"))!.graph;
    expect(stored.artifact?.uri).toMatch(/artifact-u2/);
    expect(new TextDecoder().decode(await blobs.get(stored.artifact!))).toBe("export default () => {};");
    // Resubmitting the same application is idempotent.
    const again = await jm.core.dispatcher.submitJob({ graph: userGraph("u2"), artifact: bytes });
    expect(again.alreadySubmitted).toBe(true);
  });
});
