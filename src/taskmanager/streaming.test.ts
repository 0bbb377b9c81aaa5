// Two TaskManagers (real RPC servers on loopback, memory HA, a fake leader) run examples/keyed-count.ts's job
// across both: source.sequence → hash → user.keyed-process → sink.exactly-once-file, the data crossing the
// DataExchange streams between the processes' servers where producer and consumer are on different ones, and
// local channels where they share one; the test acts as the checkpoint coordinator.
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { compileApplicationFile } from "../api/application-file.ts";
import { applicationJsonOf } from "../api/application-spec.ts";
import { RecordedEvents } from "../common/events.ts";
import { silentLogger } from "../common/logger.ts";
import type { HaConfig } from "../config/ha-config.ts";
import type {
  CheckpointAck,
  CheckpointDecline,
  ExecutionState,
  HeartbeatResponse,
  JobGraph,
  JobVertex,
  RegisterTaskManagerRequest,
  RegisterTaskManagerResponse,
  TaskDescriptor,
  TaskManagerHeartbeat,
  TaskStateAck,
  TaskStateUpdate,
} from "../generated/records.ts";
import {
  type ResourceManagerService,
  TaskExecutorMethods,
  type TaskExecutorService,
} from "../generated/services.ts";
import { JOBMANAGER_ELECTION } from "../ha/keys.ts";
import { LeaderElectionService } from "../ha/leader-election-service.ts";
import type { LeaderSession } from "../ha/leader-session.ts";
import { MemoryCoordinator, MemoryHaBackend } from "../ha/memory/index.ts";
import { waitUntil } from "../ha/testing.ts";
import { createClient, type RpcClient } from "../rpc/client.ts";
import { edge, jobGraph, vertex } from "../runtime/testing.ts";
import { FileBlobStore } from "../storage/blob-store.ts";
import { TaskManager } from "./taskmanager.ts";

const ha: HaConfig = {
  backend: "memory",
  endpoints: [],
  clusterId: "tm-streaming-test",
  ttlMs: 1_000,
  safetyMarginMs: 100,
  connectTimeoutMs: 1_000,
  requestTimeoutMs: 1_000,
};

/** A leader's ResourceManager for several TaskManagers: one registration id each; records states and acks. */
class FakeLeader implements ResourceManagerService {
  epoch = 0n;
  readonly registrationIds = new Map<string, string>();
  readonly states = new Map<string, ExecutionState>();
  readonly errors = new Map<string, string>();
  readonly acks = new Map<bigint, Map<string, CheckpointAck>>();
  readonly declines: CheckpointDecline[] = [];

  async registerTaskManager(request: RegisterTaskManagerRequest): Promise<RegisterTaskManagerResponse> {
    const registrationId = `r-${request.taskmanagerId}`;
    this.registrationIds.set(request.taskmanagerId, registrationId);
    return {
      epoch: this.epoch,
      jobmanagerName: "fake",
      registrationId,
      heartbeatIntervalMs: 100,
      heartbeatTimeoutMs: 5_000,
    };
  }
  async heartbeat(request: TaskManagerHeartbeat): Promise<HeartbeatResponse> {
    for (const t of request.tasks) this.record(t.executionId, t.state, t.error);
    return { epoch: this.epoch, registered: true };
  }
  async updateTaskState(request: TaskStateUpdate): Promise<TaskStateAck> {
    if (request.task) this.record(request.task.executionId, request.task.state, request.task.error);
    return {};
  }
  async acknowledgeCheckpoint(request: CheckpointAck): Promise<TaskStateAck> {
    let acks = this.acks.get(request.checkpointId);
    if (acks === undefined) {
      acks = new Map();
      this.acks.set(request.checkpointId, acks);
    }
    acks.set(request.executionId, request);
    return {};
  }
  async declineCheckpoint(request: CheckpointDecline): Promise<TaskStateAck> {
    this.declines.push(request);
    return {};
  }
  close(): void {}

  private record(execution: string, state: ExecutionState, error: string): void {
    const previous = this.states.get(execution);
    // Heartbeats may carry an older state than the latest update; terminal states stick.
    if (previous === "EXECUTION_STATE_FINISHED" || previous === "EXECUTION_STATE_FAILED") return;
    if (previous === "EXECUTION_STATE_CANCELED") return;
    this.states.set(execution, state);
    if (error !== "") this.errors.set(execution, error);
  }
}

const LEADER_ADDRESS = "fake-leader:6123";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Chains of a linear graph: a forward edge between equal parallelism joins two vertices. */
function linearChains(graph: JobGraph): JobVertex[][] {
  const chains: JobVertex[][] = [];
  for (const v of graph.vertices) {
    const into = graph.edges.find((e) => e.target === v.id);
    const previous = chains.at(-1);
    const tail = previous?.at(-1);
    if (
      into !== undefined &&
      tail !== undefined &&
      into.source === tail.id &&
      into.partitioning === "PARTITIONING_FORWARD" &&
      tail.parallelism === v.parallelism
    ) {
      previous!.push(v);
    } else {
      chains.push([v]);
    }
  }
  return chains;
}

/** Subtask i of every chain goes to taskManagers[i % n], each chain in its own slots. */
function deployment(graph: JobGraph, epoch: bigint, addresses: readonly string[]): TaskDescriptor[] {
  const chains = linearChains(graph);
  const n = addresses.length;
  const slotsPerChain = Math.max(...chains.map((c) => Math.ceil(c[0]!.parallelism / n)));
  const executionId = (chain: JobVertex[], subtask: number): string =>
    `${graph.jobId}/${chain[0]!.id}/${subtask}/0@${epoch}`;
  const address = (subtask: number): string => addresses[subtask % addresses.length]!;
  const tasks: TaskDescriptor[] = [];
  chains.forEach((chain, k) => {
    const head = chain[0]!;
    const tail = chain.at(-1)!;
    const previous = chains[k - 1];
    const next = chains[k + 1];
    const edgeIn = graph.edges.find((e) => e.target === head.id);
    const edgeOut = graph.edges.find((e) => e.source === tail.id);
    for (let subtask = 0; subtask < head.parallelism; subtask++) {
      tasks.push({
        jobId: graph.jobId,
        executionId: executionId(chain, subtask),
        subtask,
        parallelism: head.parallelism,
        attempt: 0,
        chain,
        slot: k * slotsPerChain + Math.floor(subtask / n),
        epoch,
        inputs:
          previous === undefined || edgeIn === undefined
            ? []
            : [
                {
                  upstreamVertex: edgeIn.source,
                  targetVertex: head.id,
                  partitioning: edgeIn.partitioning,
                  producers: Array.from({ length: previous[0]!.parallelism }, (_, i) => ({
                    executionId: executionId(previous, i),
                    taskmanagerAddress: address(i),
                    subtask: i,
                  })),
                },
              ],
        outputs:
          next === undefined || edgeOut === undefined
            ? []
            : [
                {
                  sourceVertex: tail.id,
                  downstreamVertex: edgeOut.target,
                  partitioning: edgeOut.partitioning,
                  consumers: next[0]!.parallelism,
                },
              ],
        restore: [],
        restoredCheckpointId: 0n,
        jobGraph: graph,
      });
    }
  });
  return tasks;
}

async function visibleLines(dir: string): Promise<string[]> {
  const lines: string[] = [];
  for (const name of await readdir(dir)) {
    if (name.startsWith(".")) continue;
    const text = await readFile(join(dir, name), "utf8");
    lines.push(...text.split("\n").filter((l) => l !== ""));
  }
  return lines;
}

describe("TaskManagers running a streaming job", () => {
  it("run keyed-count across two TaskManagers over the data exchange, exactly once after checkpoint completion", async () => {
    const managers = await runKeyedCount(["tm-a", "tm-b"], 2);
    // The hash edge: each consumer reads the source on its own TaskManager locally, the other one remotely.
    for (const tm of managers)
      expect(tm.exchangeCounts).toEqual({ streams: 1, localChannels: 1, connections: 1 });
  }, 30_000);

  it("run keyed-count on one TaskManager through local channels only: no stream, no connection", async () => {
    const [tm] = await runKeyedCount(["tm-a"], 4);
    expect(tm?.exchangeCounts).toEqual({ streams: 0, localChannels: 4, connections: 0 });
  }, 30_000);

  it("releases a failed producer's partitions, so that its consumers on the other TaskManager fail too", async () => {
    const root = await mkdtemp(join(tmpdir(), "vigil-tm-streaming-"));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const { leader, managers, epoch, deploy } = await startCluster(pathToFileURL(root).href);
    const graph = jobGraph(
      [
        vertex("n", "source.sequence", { count: 0 }, 2),
        vertex("m", "map.fail", { afterRecords: 5_000 }, 2),
        vertex("d", "sink.discard", {}, 2),
      ],
      [edge("n", "m"), edge("m", "d", "PARTITIONING_REBALANCE")],
    );
    const tasks = deployment(
      graph,
      epoch,
      managers.map((tm) => tm.address),
    );
    expect(tasks.map((t) => t.chain.map((v) => v.id).join("+"))).toEqual(["n+m", "n+m", "d", "d"]);
    await deploy(tasks);
    await waitUntil(
      () => tasks.every((t) => leader.states.get(t.executionId) === "EXECUTION_STATE_FAILED"),
      10_000,
      "every task failed",
    );
    for (const t of tasks.slice(0, 2)) {
      expect(leader.errors.get(t.executionId)).toMatch(/map.fail: injected failure after 5000 records/);
    }
    for (const t of tasks.slice(2)) {
      expect(leader.errors.get(t.executionId)).toMatch(/producer task .* failed|unavailable|UNAVAILABLE/i);
    }
  }, 30_000);
});

/**
 * Runs examples/keyed-count.ts at parallelism 2 on TaskManagers `ids`, as a leader would (deploy, trigger,
 * notify), and checks that every key's lines are exactly 1..n once. Resolves with the TaskManagers.
 */
async function runKeyedCount(ids: readonly string[], slots: number): Promise<TaskManager[]> {
  const root = await mkdtemp(join(tmpdir(), "vigil-tm-streaming-"));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const storageDir = pathToFileURL(join(root, "storage")).href;
  const output = join(root, "out");
  const count = 2_000;
  const keys = 7;

  // The client's part of `vigil run`: compile, and put the artifact into file storage.
  const app = resolve("examples/keyed-count.ts");
  const args = ["--count", String(count), "--keys", String(keys), "--output", output];
  const compiled = await compileApplicationFile(app, args, {
    defaultParallelism: 2,
    workingDirectory: process.cwd(),
  });
  const blobs = new FileBlobStore(storageDir);
  const artifact = await blobs.put("artifact-test", await readFile(app));
  const graph: JobGraph = {
    ...compiled.graph,
    artifact,
    applicationJson: applicationJsonOf({
      file: app,
      args,
      defaultParallelism: 2,
      workingDirectory: process.cwd(),
    }),
  };

  const { leader, managers, epoch, clientOf, deploy, events } = await startCluster(storageDir, ids, slots);
  const tasks = deployment(
    graph,
    epoch,
    managers.map((tm) => tm.address),
  );
  expect(tasks).toHaveLength(4);
  await deploy(tasks);

  const terminal = (t: TaskDescriptor): boolean => {
    const state = leader.states.get(t.executionId);
    return (
      state === "EXECUTION_STATE_FINISHED" ||
      state === "EXECUTION_STATE_FAILED" ||
      state === "EXECUTION_STATE_CANCELED"
    );
  };
  // The coordinator's loop: trigger the running sources, wait for every running task's ack, notify.
  for (let id = 1n; !tasks.every(terminal); id++) {
    expect(id).toBeLessThan(50n);
    for (const t of tasks.filter((t) => t.inputs.length === 0 && !terminal(t))) {
      await clientOf(t).triggerCheckpoint({
        epoch,
        executionId: t.executionId,
        checkpointId: id,
        timestampMs: BigInt(Date.now()),
        savepoint: false,
      });
    }
    await waitUntil(
      () => tasks.every((t) => terminal(t) || leader.acks.get(id)?.has(t.executionId) === true),
      10_000,
      `acks of checkpoint ${id}`,
    );
    expect(leader.declines).toEqual([]);
    if (id === 1n) {
      // Acked but not complete: nothing is visible yet.
      expect(await visibleLines(output).catch(() => [])).toEqual([]);
      const acks = [...leader.acks.get(1n)!.values()];
      expect(acks.map((a) => a.taskmanagerId).sort()).toEqual(
        tasks.map((t) => ids[t.subtask % ids.length]).sort(),
      );
      expect(acks.every((a) => a.epoch === epoch && a.registrationId === `r-${a.taskmanagerId}`)).toBe(true);
    }
    for (const t of tasks.filter((t) => !terminal(t))) {
      await clientOf(t).notifyCheckpointComplete({ epoch, executionId: t.executionId, checkpointId: id });
    }
  }
  expect(events.of("task-stopped").filter((e) => e["state"] === "FINISHED")).toHaveLength(4);
  const failed = tasks.filter((t) => leader.states.get(t.executionId) !== "EXECUTION_STATE_FINISHED");
  expect(failed.map((t) => `${t.executionId}: ${leader.errors.get(t.executionId)}`)).toEqual([]);

  // Every key's seq values are exactly 1..(its number of records).
  const lines = await visibleLines(output);
  expect(lines).toHaveLength(count);
  const byKey = new Map<string, number[]>();
  for (const line of lines) {
    const [key, seq] = line.split(",");
    byKey.set(key!, [...(byKey.get(key!) ?? []), Number(seq)]);
  }
  for (let k = 0; k < keys; k++) {
    const expected = Array.from({ length: count }, (_, i) => i + 1).filter((n) => n % keys === k).length;
    expect(byKey.get(String(k))!.sort((a, b) => a - b)).toEqual(
      Array.from({ length: expected }, (_, i) => i + 1),
    );
  }
  return managers;
}

/** TaskManagers `ids` registered with a fake leader; subtask i of every chain is deployed to managers[i % n]. */
async function startCluster(storageDir: string, ids: readonly string[] = ["tm-a", "tm-b"], slots = 2) {
  // A leader publishing the fake's address.
  const coordinator = new MemoryCoordinator();
  const leader = new FakeLeader();
  const backend = new MemoryHaBackend(coordinator, ha);
  const election = new LeaderElectionService(
    backend.createElectionDriver(JOBMANAGER_ELECTION),
    "jm",
    silentLogger,
  );
  cleanups.push(
    () => backend.close(),
    () => election.close(),
  );
  await election.start({
    grantLeadership: async (session: LeaderSession) => {
      leader.epoch = session.epoch;
      await election.confirmLeadership(session, LEADER_ADDRESS);
    },
    revokeLeadership: () => {},
    handleError: () => {},
  });

  const events = new RecordedEvents();
  const managers = ids.map(
    (id) =>
      new TaskManager({
        id,
        ha,
        storageDir,
        rpcHost: "127.0.0.1",
        rpcPort: 0,
        slots,
        logger: silentLogger,
        events: events.sink,
        onFatalError: (e) => {
          throw e;
        },
        memory: coordinator,
        connectResourceManager: () => leader,
      }),
  );
  for (const tm of managers) {
    cleanups.push(() => tm.close());
    await tm.start();
  }
  await waitUntil(() => leader.registrationIds.size === ids.length, 5_000, "every TaskManager registered");
  const epoch = leader.epoch;
  const clients = new Map<string, RpcClient<TaskExecutorService>>();
  for (const tm of managers) {
    const client = createClient<TaskExecutorService>(TaskExecutorMethods, tm.address);
    cleanups.push(() => client.close());
    clients.set(tm.address, client);
  }

  const clientOf = (t: TaskDescriptor): RpcClient<TaskExecutorService> =>
    clients.get(managers[t.subtask % managers.length]!.address)!;
  const registrationOf = (t: TaskDescriptor): string =>
    leader.registrationIds.get(ids[t.subtask % ids.length]!)!;
  const deploy = async (tasks: readonly TaskDescriptor[]): Promise<void> => {
    for (const t of tasks)
      await clientOf(t).deployTask({ epoch, registrationId: registrationOf(t), task: t });
  };
  return { leader, managers, epoch, events, clientOf, deploy };
}
