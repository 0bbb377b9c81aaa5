import { afterEach, describe, expect, it } from "vitest";
import { monotonicNow, sleep } from "../common/clock.ts";
import { StaleEpochError, UnavailableError } from "../common/errors.ts";
import { RecordedEvents, type VigilEvent } from "../common/events.ts";
import { silentLogger } from "../common/logger.ts";
import type { HaConfig } from "../config/ha-config.ts";
import {
  ResourceManagerMethods,
  type ResourceManagerService,
  TaskExecutorMethods,
  type TaskExecutorService,
} from "../generated/services.ts";
import { JOBMANAGER_ELECTION } from "../ha/keys.ts";
import { LeaderElectionService } from "../ha/leader-election-service.ts";
import { MemoryCoordinator, MemoryHaBackend } from "../ha/memory/index.ts";
import { waitUntil } from "../ha/testing.ts";
import { createClient } from "../rpc/client.ts";
import { RpcServer } from "../rpc/server.ts";
import type { ResourceManagerClient } from "./task-lease.ts";
import { TaskManager } from "./taskmanager.ts";
import {
  ControlledTasks,
  FakeLeaderContender,
  FakeResourceManager,
  RecordingLogger,
  taskDescriptor,
} from "./testing.ts";

const ha: HaConfig = {
  backend: "memory",
  endpoints: [],
  clusterId: "tm-test",
  ttlMs: 300,
  safetyMarginMs: 30,
  connectTimeoutMs: 1_000,
  requestTimeoutMs: 1_000,
};

function unreachable(address: string): ResourceManagerClient {
  const refuse = (): Promise<never> => Promise.reject(new UnavailableError(`${address}: nothing listens`));
  return {
    registerTaskManager: refuse,
    heartbeat: refuse,
    updateTaskState: refuse,
    acknowledgeCheckpoint: refuse,
    declineCheckpoint: refuse,
    close: () => {},
  };
}

class Harness {
  readonly coordinator = new MemoryCoordinator();
  readonly events = new RecordedEvents();
  readonly tasks = new ControlledTasks();
  readonly leaders = new Map<string, FakeResourceManager>();
  readonly log = new RecordingLogger();
  /** monotonicNow() at which each recorded event arrived. */
  readonly at = new Map<VigilEvent, number>();
  readonly fatal: Error[] = [];
  private readonly sink = (e: VigilEvent): void => {
    this.at.set(e, monotonicNow());
    this.events.sink(e);
  };
  private readonly open: Array<() => Promise<void>> = [];
  private closed = false;

  /** A fake leader that campaigns; once granted it answers with its epoch and publishes its address. */
  async leader(name: string, rm = new FakeResourceManager(name, `${name}:6123`)) {
    this.leaders.set(rm.address, rm);
    const backend = new MemoryHaBackend(this.coordinator, ha);
    const service = new LeaderElectionService(
      backend.createElectionDriver(JOBMANAGER_ELECTION),
      name,
      silentLogger,
    );
    this.open.push(
      () => backend.close(),
      () => service.close(),
    );
    await service.start(new FakeLeaderContender(rm, (s, a) => service.confirmLeadership(s, a)));
    return { rm, service };
  }

  async taskManager(options: { id?: string; slots?: number; fakeRpc?: boolean } = {}): Promise<TaskManager> {
    const tm = new TaskManager({
      id: options.id ?? "tm-1",
      ha,
      storageDir: undefined,
      rpcHost: "127.0.0.1",
      rpcPort: 0,
      slots: options.slots ?? 2,
      logger: this.log,
      events: this.sink,
      onFatalError: (e: Error) => this.fatal.push(e),
      memory: this.coordinator,
      ...(options.fakeRpc === false
        ? {}
        : { connectResourceManager: (address: string) => this.leaders.get(address) ?? unreachable(address) }),
      runTask: this.tasks.run,
    });
    this.open.push(() => tm.close());
    await tm.start();
    return tm;
  }

  registeredWith(rm: FakeResourceManager): number {
    return this.events.of("registered").filter((e) => e["epoch"] === rm.epoch && e["leader"] === rm.address)
      .length;
  }

  index(event: string, execution?: string): number {
    return this.events.all.findIndex(
      (e) => e.event === event && (execution === undefined || e["execution"] === execution),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const close of this.open.splice(0).reverse()) await close();
    this.coordinator.close();
  }
}

function deploy(tm: TaskManager, rm: FakeResourceManager, subtask: number) {
  return tm.taskExecutor.deployTask({
    epoch: rm.epoch,
    registrationId: rm.registrationId ?? "",
    task: taskDescriptor("job1", subtask, rm.epoch),
  });
}

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("TaskManager", () => {
  it("waits for a leader when none is published, then registers with it and heartbeats", async () => {
    h = new Harness();
    const tm = await h.taskManager();
    expect(h.events.of("taskmanager-started")).toEqual([
      { event: "taskmanager-started", id: "tm-1", address: tm.address, slots: 2 },
    ]);
    expect(tm.address).toMatch(/^127\.0\.0\.1:\d+$/);
    const { rm } = await h.leader("jm-a");
    await waitUntil(() => h.registeredWith(rm) === 1);
    expect(rm.registrations).toEqual([
      { taskmanagerId: "tm-1", address: tm.address, slots: 2, epoch: rm.epoch, at: expect.any(Number) },
    ]);
    await waitUntil(() => rm.heartbeats.length >= 2);
    expect(rm.heartbeats[0]).toEqual({
      taskmanagerId: "tm-1",
      registrationId: rm.registrationId,
      epoch: rm.epoch,
      tasks: [],
      freeSlots: 2,
    });
    expect(h.log.lines.filter((l) => l.message.includes("waiting for a JobManager leader"))).toHaveLength(1);
  });

  it("re-registers with a new leader within a second, after the older leader's tasks have stopped", async () => {
    h = new Harness();
    const a = await h.leader("jm-a");
    const b = await h.leader("jm-b");
    const tm = await h.taskManager();
    await waitUntil(() => h.registeredWith(a.rm) === 1);
    await deploy(tm, a.rm, 0);
    await deploy(tm, a.rm, 1);
    h.tasks.stopDelayMs = 100;
    await a.service.close();
    await waitUntil(() => h.registeredWith(b.rm) === 1, 2_000);
    expect(b.rm.epoch).toBeGreaterThan(a.rm.epoch);
    const publishedAt = b.rm.publishedAt ?? Number.NaN;
    expect(b.rm.registrations[0]!.at - publishedAt).toBeLessThan(1_000);
    // Both old tasks had really stopped (their code returned) before the TaskManager registered with b.
    const registeredAt = h.events.all.findIndex((e) => e.event === "registered" && e["epoch"] === b.rm.epoch);
    for (const execution of [`job1/source/0/1@${a.rm.epoch}`, `job1/source/1/1@${a.rm.epoch}`]) {
      expect(h.index("task-stopped", execution)).toBeLessThan(registeredAt);
      expect(h.events.all[h.index("task-stopped", execution)]).toMatchObject({ state: "CANCELED" });
    }
    expect(h.tasks.running).toEqual([]);
    expect(h.events.of("leader-lost")).toEqual([]);
    // The old leader's commands are refused from now on.
    await expect(deploy(tm, a.rm, 0)).rejects.toBeInstanceOf(StaleEpochError);
    await deploy(tm, b.rm, 0);
    expect(h.tasks.running).toEqual([`job1/source/0/1@${b.rm.epoch}`]);
  });

  it("refuses a deposed leader's deploy with a StaleEpochError naming both epochs, and an event", async () => {
    h = new Harness();
    const a = await h.leader("jm-a");
    const b = await h.leader("jm-b");
    const tm = await h.taskManager();
    await waitUntil(() => h.registeredWith(a.rm) === 1);
    const stale = { epoch: a.rm.epoch, registration: a.rm.registrationId };
    await a.service.close();
    await waitUntil(() => h.registeredWith(b.rm) === 1, 2_000);
    const refused = tm.taskExecutor.deployTask({
      epoch: stale.epoch,
      registrationId: stale.registration ?? "",
      task: taskDescriptor("job1", 0, stale.epoch),
    });
    await expect(refused).rejects.toMatchObject({
      code: "STALE_EPOCH",
      epoch: stale.epoch,
      highest: b.rm.epoch,
      message: expect.stringContaining(`leader epoch ${stale.epoch} is older than epoch ${b.rm.epoch}`),
    });
    expect(h.events.of("command-rejected")).toEqual([
      {
        event: "command-rejected",
        command: "deploy",
        execution: `job1/source/0/1@${stale.epoch}`,
        epoch: stale.epoch,
        highest: b.rm.epoch,
        reason: "stale-epoch",
      },
    ]);
    expect(h.tasks.started).toEqual([]);
  });

  it("accepts a deploy that overtakes the answer to its registration", async () => {
    h = new Harness();
    const { rm } = await h.leader("jm-a");
    let answer = (): void => {};
    rm.hold = new Promise((resolve) => {
      answer = resolve;
    });
    const tm = await h.taskManager();
    await waitUntil(() => rm.registrations.length === 1);
    let settled = false;
    const deploying = deploy(tm, rm, 0).finally(() => {
      settled = true;
    });
    // Only a negative can be shown here: the deploy neither failed nor ran while the registration was pending.
    await sleep(30);
    expect(settled).toBe(false);
    expect(h.tasks.started).toEqual([]);
    answer();
    await deploying;
    expect(h.registeredWith(rm)).toBe(1);
    expect(h.tasks.running).toEqual([`job1/source/0/1@${rm.epoch}`]);
    expect(h.events.of("command-rejected")).toEqual([]);
  });

  it("cancels its tasks and emits leader-lost when the leader stops answering, then registers again", async () => {
    h = new Harness();
    const { rm } = await h.leader("jm-a");
    rm.heartbeatTimeoutMs = 300;
    const tm = await h.taskManager();
    await waitUntil(() => h.registeredWith(rm) === 1);
    await deploy(tm, rm, 0);
    await waitUntil(() => rm.heartbeats.some((hb) => hb.tasks.length === 1));
    const silentFrom = monotonicNow();
    rm.answering = false;
    await waitUntil(() => h.events.of("leader-lost").length === 1, 2_000);
    // The lease lasts a heartbeat timeout from the last answered send (at most one interval before silence);
    // its tasks are cancelled a budget of 300 / 4 ms before it ends.
    expect(monotonicNow() - silentFrom).toBeGreaterThanOrEqual(300 - 75 - rm.heartbeatIntervalMs - 5);
    expect(h.events.of("leader-lost")[0]).toEqual({
      event: "leader-lost",
      epoch: rm.epoch,
      reason: expect.stringMatching(
        /^no heartbeat answered by jm-a:6123 renewed the lease \(heartbeat timeout 300 ms\); the task lease of epoch \d+ ends in \d+ ms$/,
      ),
    });
    const execution = `job1/source/0/1@${rm.epoch}`;
    await waitUntil(() => h.tasks.stopped.includes(execution));
    expect(h.index("task-stopped", execution)).toBeGreaterThan(h.index("leader-lost"));
    // No lease, no deploys; it keeps trying to register.
    await expect(deploy(tm, rm, 1)).rejects.toMatchObject({ code: "STALE_FENCE" });
    const calls = rm.calls;
    await waitUntil(() => rm.calls >= calls + 1, 2_000);
    rm.answering = true;
    await waitUntil(() => h.registeredWith(rm) === 2, 2_000);
    await deploy(tm, rm, 1);
    expect(h.tasks.running).toEqual([`job1/source/1/1@${rm.epoch}`]);
  });

  it("starts cancelling before the lease ends, so that tasks have stopped by its end", async () => {
    h = new Harness();
    const { rm } = await h.leader("jm-a");
    const tm = await h.taskManager();
    await waitUntil(() => h.registeredWith(rm) === 1);
    await deploy(tm, rm, 0);
    await waitUntil(() => rm.heartbeats.some((hb) => hb.tasks.length === 1));
    // Stopping takes 40 ms, within the cancel budget of min(500, 400 / 4) = 100 ms.
    h.tasks.stopDelayMs = 40;
    rm.answering = false;
    const execution = `job1/source/0/1@${rm.epoch}`;
    await waitUntil(() => h.tasks.stopped.includes(execution), 2_000);
    const stopped = h.events.all[h.index("task-stopped", execution)]!;
    const leaseEnd = rm.heartbeatAt.at(-1)! + rm.heartbeatTimeoutMs;
    expect(h.at.get(stopped)).toBeLessThan(leaseEnd);
    expect(h.index("leader-lost")).toBeLessThan(h.index("task-stopped", execution));
    expect(h.events.of("fatal")).toEqual([]);
    expect(h.fatal).toEqual([]);
  });

  it("a task still running when its lease ends is a fatal error", async () => {
    h = new Harness();
    const { rm } = await h.leader("jm-a");
    const tm = await h.taskManager();
    await waitUntil(() => h.registeredWith(rm) === 1);
    await deploy(tm, rm, 0);
    await waitUntil(() => rm.heartbeats.some((hb) => hb.tasks.length === 1));
    h.tasks.ignoreAbort = true;
    rm.answering = false;
    await waitUntil(() => h.fatal.length === 1, 2_000);
    const execution = `job1/source/0/1@${rm.epoch}`;
    const [fatal] = h.events.of("fatal");
    expect(fatal).toEqual({
      event: "fatal",
      reason: expect.stringContaining(`task lease of epoch ${rm.epoch}`),
      executions: [execution],
    });
    const leaseEnd = rm.heartbeatAt.at(-1)! + rm.heartbeatTimeoutMs;
    expect(h.at.get(fatal!)).toBeGreaterThanOrEqual(leaseEnd - 5);
    // The cancel began a budget (100 ms) before the lease end.
    expect(h.at.get(fatal!)! - h.at.get(h.events.of("leader-lost")[0]!)!).toBeGreaterThanOrEqual(90);
    expect(h.fatal[0]?.message).toContain(execution);
    expect(h.log.lines.some((l) => l.level === "error" && l.message.includes(execution))).toBe(true);
    expect(h.tasks.running).toEqual([execution]);
  });

  it("bounds the stop of an older leader's tasks by its lease, and never registers after a fatal error", async () => {
    h = new Harness();
    const a = await h.leader("jm-a");
    const b = await h.leader("jm-b");
    const tm = await h.taskManager();
    await waitUntil(() => h.registeredWith(a.rm) === 1);
    await deploy(tm, a.rm, 0);
    h.tasks.ignoreAbort = true;
    const publishedAt = monotonicNow();
    await a.service.close();
    await waitUntil(() => h.fatal.length === 1, 2_000);
    // By the old lease's end at the latest: a heartbeat timeout (400 ms) after its last answered heartbeat.
    expect(monotonicNow() - publishedAt).toBeLessThan(a.rm.heartbeatTimeoutMs + 50);
    expect(h.events.of("fatal")).toEqual([
      {
        event: "fatal",
        reason: expect.stringContaining(`a new JobManager leader with epoch ${b.rm.epoch} was published`),
        executions: [`job1/source/0/1@${a.rm.epoch}`],
      },
    ]);
    await sleep(100);
    expect(b.rm.registrations).toEqual([]);
    await expect(deploy(tm, b.rm, 1)).rejects.toThrow(/takes no more tasks after a fatal error/);
  });

  it("ends the lease at once when its leader answers NOT_LEADER, then follows retrieval to the next", async () => {
    h = new Harness();
    const a = await h.leader("jm-a");
    const b = await h.leader("jm-b");
    const tm = await h.taskManager();
    await waitUntil(() => h.registeredWith(a.rm) === 1);
    await deploy(tm, a.rm, 0);
    await waitUntil(() => a.rm.heartbeats.some((hb) => hb.tasks.length === 1));
    const deposedAt = monotonicNow();
    a.rm.deposed = true;
    await waitUntil(() => h.events.of("leader-lost").length === 1, 2_000);
    // Well before the lease would have run out (400 ms from the last answered heartbeat).
    expect(monotonicNow() - deposedAt).toBeLessThan(200);
    expect(h.events.of("leader-lost")[0]).toEqual({
      event: "leader-lost",
      epoch: a.rm.epoch,
      reason: expect.stringContaining("NOT_LEADER"),
    });
    const execution = `job1/source/0/1@${a.rm.epoch}`;
    await waitUntil(() => h.tasks.stopped.includes(execution));
    await expect(deploy(tm, a.rm, 1)).rejects.toMatchObject({ code: "STALE_FENCE" });
    await a.service.close();
    await waitUntil(() => h.registeredWith(b.rm) === 1, 2_000);
    expect(h.events.of("leader-lost")).toHaveLength(1);
    expect(h.registeredWith(a.rm)).toBe(1);
    expect(h.fatal).toEqual([]);
  });

  it("on registered=false cancels its tasks and registers again", async () => {
    h = new Harness();
    const { rm } = await h.leader("jm-a");
    const tm = await h.taskManager();
    await waitUntil(() => h.registeredWith(rm) === 1);
    await deploy(tm, rm, 0);
    h.tasks.stopDelayMs = 50;
    rm.knows = false;
    await waitUntil(() => rm.registrations.length === 2, 2_000);
    const execution = `job1/source/0/1@${rm.epoch}`;
    expect(h.tasks.stopped).toEqual([execution]);
    const secondRegistration = h.events.all.findLastIndex((e) => e.event === "registered");
    expect(h.index("task-stopped", execution)).toBeLessThan(secondRegistration);
    expect(h.events.of("leader-lost")).toEqual([]);
  });

  it("reports a task failure with its error, at once and in heartbeats", async () => {
    h = new Harness();
    const { rm } = await h.leader("jm-a");
    const tm = await h.taskManager();
    await waitUntil(() => h.registeredWith(rm) === 1);
    await deploy(tm, rm, 1);
    const execution = `job1/source/1/1@${rm.epoch}`;
    h.tasks.fail(execution, new Error("operator map-fail: boom"));
    await waitUntil(() => rm.updates.some((u) => u.task?.state === "EXECUTION_STATE_FAILED"));
    expect(rm.updates.map((u) => u.task?.state)).toEqual([
      "EXECUTION_STATE_RUNNING",
      "EXECUTION_STATE_FAILED",
    ]);
    expect(rm.updates[1]).toEqual({
      taskmanagerId: "tm-1",
      registrationId: rm.registrationId,
      epoch: rm.epoch,
      task: {
        executionId: execution,
        state: "EXECUTION_STATE_FAILED",
        records: 7n,
        error: "operator map-fail: boom",
      },
    });
    await waitUntil(() =>
      rm.heartbeats.some(
        (hb) => hb.tasks.some((t) => t.state === "EXECUTION_STATE_FAILED") && hb.freeSlots === 2,
      ),
    );
    expect(h.events.of("task-stopped")).toEqual([
      {
        event: "task-stopped",
        job: "job1",
        execution,
        vertex: "source",
        subtask: 1,
        attempt: 1,
        epoch: rm.epoch,
        state: "FAILED",
        error: "operator map-fail: boom",
      },
    ]);
  });

  it("close cancels every task and waits until they have stopped", async () => {
    h = new Harness();
    const { rm } = await h.leader("jm-a");
    const tm = await h.taskManager();
    await waitUntil(() => h.registeredWith(rm) === 1);
    await deploy(tm, rm, 0);
    await deploy(tm, rm, 1);
    h.tasks.stopDelayMs = 50;
    await tm.close();
    expect(h.tasks.stopped.sort()).toEqual([`job1/source/0/1@${rm.epoch}`, `job1/source/1/1@${rm.epoch}`]);
    expect(h.events.of("task-stopped").map((e) => e["state"])).toEqual(["CANCELED", "CANCELED"]);
    expect(rm.updates.filter((u) => u.task?.state === "EXECUTION_STATE_CANCELED")).toHaveLength(2);
    await tm.close();
    await expect(deploy(tm, rm, 0)).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });

  it("serves TaskExecutor and calls the leader over loopback gRPC", async () => {
    h = new Harness();
    const rm = new FakeResourceManager("jm-grpc", "");
    const server = new RpcServer({ host: "127.0.0.1", port: 0, logger: silentLogger });
    server.addService<ResourceManagerService>(ResourceManagerMethods, rm);
    rm.address = await server.start();
    try {
      await h.leader("jm-grpc", rm);
      const tm = await h.taskManager({ fakeRpc: false });
      await waitUntil(() => h.registeredWith(rm) === 1, 3_000);
      const executor = createClient<TaskExecutorService>(TaskExecutorMethods, tm.address);
      try {
        await executor.deployTask({
          epoch: rm.epoch,
          registrationId: rm.registrationId ?? "",
          task: taskDescriptor("job1", 0, rm.epoch),
        });
        const execution = `job1/source/0/1@${rm.epoch}`;
        expect(h.tasks.running).toEqual([execution]);
        await expect(
          executor.deployTask({
            epoch: rm.epoch - 1n,
            registrationId: rm.registrationId ?? "",
            task: taskDescriptor("job1", 1, rm.epoch - 1n),
          }),
        ).rejects.toMatchObject({ code: "STALE_EPOCH" });
        await waitUntil(() => rm.updates.length >= 1, 2_000);
        expect(await executor.cancelTask({ epoch: rm.epoch, executionId: execution })).toEqual({
          state: "EXECUTION_STATE_CANCELED",
        });
        expect(h.tasks.stopped).toEqual([execution]);
      } finally {
        executor.close();
      }
    } finally {
      await h.close();
      await server.shutdown(100);
    }
  });
});
