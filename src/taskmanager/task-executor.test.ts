import { describe, expect, it } from "vitest";
import { monotonicNow, sleep } from "../common/clock.ts";
import {
  AlreadyExistsError,
  InvalidArgumentError,
  NotFoundError,
  StaleEpochError,
} from "../common/errors.ts";
import { RecordedEvents } from "../common/events.ts";
import { silentLogger } from "../common/logger.ts";
import { waitUntil } from "../ha/testing.ts";
import { EpochFence } from "./epoch-fence.ts";
import { type Registration, RegistrationFenceError } from "./registration.ts";
import { TaskExecutor } from "./task-executor.ts";
import type { TaskStateChange } from "./task-lifecycle.ts";
import { ControlledTasks, taskDescriptor } from "./testing.ts";

interface SetupOptions {
  readonly awaitRegistration?: (epoch: bigint, signal: AbortSignal | undefined) => Promise<void>;
  readonly cancellationTimeoutMs?: number;
}

function setup(slots = 2, epoch = 5n, extra: SetupOptions = {}) {
  const fence = new EpochFence();
  fence.observe(epoch);
  const events = new RecordedEvents();
  const tasks = new ControlledTasks();
  const changes: TaskStateChange[] = [];
  const state: { registration: Registration | undefined } = {
    registration: {
      epoch,
      registrationId: "r1",
      leader: "jm:1",
      heartbeatIntervalMs: 50,
      heartbeatTimeoutMs: 400,
    },
  };
  const fatal: Error[] = [];
  const executor = new TaskExecutor({
    id: "tm-1",
    slots,
    fence,
    registration: () => state.registration,
    awaitRegistration: extra.awaitRegistration ?? (async () => {}),
    runTask: tasks.run,
    onStateChange: (c) => changes.push(c),
    cancellationTimeoutMs: () => extra.cancellationTimeoutMs ?? 400,
    onFatalError: (e) => fatal.push(e),
    logger: silentLogger,
    events: events.sink,
  });
  const deploy = (subtask: number, slot = subtask, registrationId = "r1", at = epoch) =>
    executor.deployTask({ epoch: at, registrationId, task: taskDescriptor("job1", subtask, epoch, slot) });
  return { fence, events, tasks, changes, state, executor, deploy, fatal };
}

describe("TaskExecutor", () => {
  it("runs a deployed task once, however often the deploy is repeated", async () => {
    const { executor, tasks, events, deploy } = setup();
    await deploy(0);
    await deploy(0);
    expect(tasks.started).toEqual(["job1/source/0/1@5"]);
    expect(events.of("task-running")).toEqual([
      {
        event: "task-running",
        job: "job1",
        execution: "job1/source/0/1@5",
        vertex: "source",
        subtask: 0,
        attempt: 1,
        epoch: 5n,
      },
    ]);
    expect(executor.freeSlots).toBe(1);
    expect(executor.statuses(5n)).toEqual([
      { executionId: "job1/source/0/1@5", state: "EXECUTION_STATE_RUNNING", records: 7n, error: "" },
    ]);
    // Still idempotent once the task has ended and been reported.
    tasks.finish("job1/source/0/1@5");
    await waitUntil(() => events.of("task-stopped").length === 1);
    executor.retire(["job1/source/0/1@5"]);
    await deploy(0);
    expect(tasks.started).toHaveLength(1);
  });

  it("refuses a deploy of a stale epoch with both epochs named, and an event", async () => {
    const { executor, fence, tasks, events } = setup();
    fence.observe(7n);
    const refused = executor.deployTask({
      epoch: 5n,
      registrationId: "r1",
      task: taskDescriptor("job1", 0, 5n),
    });
    await expect(refused).rejects.toBeInstanceOf(StaleEpochError);
    await expect(refused).rejects.toMatchObject({
      code: "STALE_EPOCH",
      epoch: 5n,
      highest: 7n,
      message: expect.stringMatching(/deploy job1\/source\/0\/1@5.*epoch 5.*epoch 7/),
    });
    await expect(executor.cancelTask({ epoch: 6n, executionId: "x" })).rejects.toBeInstanceOf(
      StaleEpochError,
    );
    expect(tasks.started).toEqual([]);
    expect(events.of("command-rejected")).toEqual([
      {
        event: "command-rejected",
        command: "deploy",
        execution: "job1/source/0/1@5",
        epoch: 5n,
        highest: 7n,
        reason: "stale-epoch",
      },
      {
        event: "command-rejected",
        command: "cancel",
        execution: "x",
        epoch: 6n,
        highest: 7n,
        reason: "stale-epoch",
      },
    ]);
  });

  it("refuses deploys that are not from the current registration", async () => {
    const { state, tasks, events, deploy } = setup();
    await expect(deploy(0, 0, "r0")).rejects.toBeInstanceOf(RegistrationFenceError);
    await expect(deploy(0, 0, "r1", 6n)).rejects.toMatchObject({
      code: "STALE_FENCE",
      message: expect.stringContaining("not registered with the leader of epoch 6"),
    });
    state.registration = undefined;
    await expect(deploy(0)).rejects.toMatchObject({ code: "STALE_FENCE" });
    expect(tasks.started).toEqual([]);
    expect(events.of("command-rejected").map((e) => e["reason"])).toEqual([
      "registration-mismatch",
      "not-registered",
      "not-registered",
    ]);
  });

  it("refuses a taken slot naming its holder, and a slot out of range", async () => {
    const { executor, tasks, events, deploy } = setup(1);
    await deploy(0);
    const taken = deploy(1, 0);
    await expect(taken).rejects.toBeInstanceOf(AlreadyExistsError);
    await expect(taken).rejects.toThrow(/slot 0 of taskmanager tm-1 \(held by job1\/source\/0\/1@5/);
    await expect(deploy(1, 1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(deploy(1, 1)).rejects.toThrow(/slot 1 does not exist on taskmanager tm-1, which has 1 slot/);
    expect(tasks.started).toHaveLength(1);
    // The slot is free again only once the task's code has stopped.
    tasks.stopDelayMs = 50;
    await executor.cancelTask({ epoch: 5n, executionId: "job1/source/0/1@5" });
    await deploy(1, 0);
    expect(tasks.started).toEqual(["job1/source/0/1@5", "job1/source/1/1@5"]);
    expect(events.of("task-stopped")).toHaveLength(1);
  });

  it("answers a cancel only once the task has really stopped", async () => {
    const { executor, tasks, events, changes, deploy } = setup();
    await deploy(0);
    tasks.stopDelayMs = 100;
    const answer = await executor.cancelTask({ epoch: 5n, executionId: "job1/source/0/1@5" });
    expect(answer).toEqual({ state: "EXECUTION_STATE_CANCELED" });
    expect(tasks.stopped).toEqual(["job1/source/0/1@5"]);
    expect(events.of("task-stopped")).toEqual([
      {
        event: "task-stopped",
        job: "job1",
        execution: "job1/source/0/1@5",
        vertex: "source",
        subtask: 0,
        attempt: 1,
        epoch: 5n,
        state: "CANCELED",
      },
    ]);
    expect(changes.map((c) => c.status.state)).toEqual([
      "EXECUTION_STATE_RUNNING",
      "EXECUTION_STATE_CANCELING",
      "EXECUTION_STATE_CANCELED",
    ]);
    expect(executor.freeSlots).toBe(2);
    // Unknown executions are already cancelled.
    expect(await executor.cancelTask({ epoch: 5n, executionId: "nope" })).toEqual({
      state: "EXECUTION_STATE_CANCELED",
    });
  });

  it("reports a failed task with its error", async () => {
    const { executor, tasks, events, changes, deploy } = setup();
    await deploy(1);
    tasks.fail("job1/source/1/1@5", new Error("operator map-fail threw: boom"));
    await waitUntil(() => events.of("task-stopped").length === 1);
    expect(events.of("task-stopped")[0]).toMatchObject({
      state: "FAILED",
      error: "operator map-fail threw: boom",
      epoch: 5n,
    });
    expect(changes.at(-1)).toEqual({
      epoch: 5n,
      status: {
        executionId: "job1/source/1/1@5",
        state: "EXECUTION_STATE_FAILED",
        records: 7n,
        error: "operator map-fail threw: boom",
      },
    });
    expect(executor.freeSlots).toBe(2);
    expect(await executor.cancelTask({ epoch: 5n, executionId: "job1/source/1/1@5" })).toEqual({
      state: "EXECUTION_STATE_FAILED",
    });
  });

  it("close cancels every task, waits for them, and refuses later deploys", async () => {
    const { executor, tasks, deploy } = setup();
    await deploy(0);
    await deploy(1);
    tasks.stopDelayMs = 30;
    await executor.close(1_000);
    expect(tasks.stopped.sort()).toEqual(["job1/source/0/1@5", "job1/source/1/1@5"]);
    await expect(deploy(0, 0)).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });

  it("refuses a deploy of an execution that was cancelled before it was deployed", async () => {
    const { executor, tasks, events, deploy } = setup();
    const execution = "job1/source/0/1@5";
    expect(await executor.cancelTask({ epoch: 5n, executionId: execution })).toEqual({
      state: "EXECUTION_STATE_CANCELED",
    });
    const refused = deploy(0);
    await expect(refused).rejects.toMatchObject({
      code: "CANCELLED",
      message: expect.stringContaining(`execution ${execution} was cancelled before it was deployed`),
    });
    expect(tasks.started).toEqual([]);
    expect(executor.freeSlots).toBe(2);
    expect(events.of("command-rejected")).toEqual([
      {
        event: "command-rejected",
        command: "deploy",
        execution,
        epoch: 5n,
        highest: 5n,
        reason: "cancelled-before-deploy",
      },
    ]);
  });

  it("refuses a deploy parked behind a registration when a cancel passed it", async () => {
    let release = (): void => {};
    const parked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { executor, tasks, state, deploy } = setup(2, 5n, { awaitRegistration: () => parked });
    const registration = state.registration;
    state.registration = undefined;
    const deploying = deploy(0);
    await sleep(10);
    expect(await executor.cancelTask({ epoch: 5n, executionId: "job1/source/0/1@5" })).toEqual({
      state: "EXECUTION_STATE_CANCELED",
    });
    state.registration = registration;
    release();
    await expect(deploying).rejects.toThrow(/was cancelled before it was deployed/);
    expect(tasks.started).toEqual([]);
  });

  it("starts nothing for a deploy whose caller already gave up", async () => {
    let release = (): void => {};
    const parked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { executor, tasks, state, events } = setup(2, 5n, { awaitRegistration: () => parked });
    const gaveUp = AbortSignal.abort(new Error("deadline passed"));
    const task = taskDescriptor("job1", 0, 5n);
    await expect(
      executor.deployTask({ epoch: 5n, registrationId: "r1", task }, { signal: gaveUp }),
    ).rejects.toMatchObject({ code: "CANCELLED", message: expect.stringContaining("nothing was started") });
    // The caller's deadline passes while the deploy waits for the registration to settle.
    const registration = state.registration;
    state.registration = undefined;
    const controller = new AbortController();
    const deploying = executor.deployTask(
      { epoch: 5n, registrationId: "r1", task: taskDescriptor("job1", 1, 5n) },
      { signal: controller.signal },
    );
    controller.abort(new Error("deadline passed"));
    state.registration = registration;
    release();
    await expect(deploying).rejects.toMatchObject({ code: "CANCELLED" });
    expect(tasks.started).toEqual([]);
    expect(executor.freeSlots).toBe(2);
    expect(events.of("command-rejected").map((e) => e["reason"])).toEqual([
      "caller-gave-up",
      "caller-gave-up",
    ]);
  });

  it("a task that ignores its cancel for the cancellation timeout is a fatal error", async () => {
    const { executor, tasks, events, fatal, deploy } = setup(2, 5n, { cancellationTimeoutMs: 60 });
    await deploy(0);
    tasks.ignoreAbort = true;
    const started = monotonicNow();
    const cancel = executor.cancelTask({ epoch: 5n, executionId: "job1/source/0/1@5" });
    await expect(cancel).rejects.toMatchObject({
      code: "INTERNAL",
      message: expect.stringContaining("job1/source/0/1@5"),
    });
    expect(monotonicNow() - started).toBeGreaterThanOrEqual(55);
    expect(events.of("fatal")).toEqual([
      { event: "fatal", reason: expect.stringContaining("60 ms"), executions: ["job1/source/0/1@5"] },
    ]);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]?.message).toContain("job1/source/0/1@5");
    // A TaskManager in that state takes no more work.
    await expect(deploy(1)).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(tasks.started).toEqual(["job1/source/0/1@5"]);
  });

  it("cancelWhere reports the tasks still running at its deadline as one fatal error, once", async () => {
    const { executor, tasks, events, fatal, deploy } = setup();
    await deploy(0);
    await deploy(1);
    tasks.ignoreAbort = true;
    const deadline = monotonicNow() + 50;
    await executor.cancelWhere((e) => e <= 5n, "the task lease of epoch 5 ended", deadline);
    // Timers may fire a millisecond early by the monotonic clock.
    expect(monotonicNow()).toBeGreaterThanOrEqual(deadline - 5);
    expect(events.of("fatal")).toEqual([
      {
        event: "fatal",
        reason: expect.stringContaining("the task lease of epoch 5 ended"),
        executions: ["job1/source/0/1@5", "job1/source/1/1@5"],
      },
    ]);
    // Another bounded wait for the same tasks does not report them again.
    await executor.cancelWhere(() => true, "again", monotonicNow() + 10);
    expect(events.of("fatal")).toHaveLength(1);
    expect(fatal).toHaveLength(1);
  });

  it("close is bounded by its grace period even when a task ignores its abort", async () => {
    const { executor, tasks, events, fatal, deploy } = setup();
    await deploy(0);
    tasks.ignoreAbort = true;
    const started = monotonicNow();
    await executor.close(80);
    expect(monotonicNow() - started).toBeGreaterThanOrEqual(75);
    expect(events.of("fatal")).toEqual([
      { event: "fatal", reason: expect.stringContaining("shutting down"), executions: ["job1/source/0/1@5"] },
    ]);
    expect(fatal).toHaveLength(1);
  });
});

describe("TaskExecutor checkpoint commands", () => {
  it("routes checkpoint commands to the running task of that epoch; unknown executions: NOT_FOUND / no-op", async () => {
    const { executor, deploy, tasks } = setup();
    await deploy(0);
    const executionId = "job1/source/0/1@5";
    const trigger = { epoch: 5n, executionId, checkpointId: 1n, timestampMs: 1234n, savepoint: false };
    expect(await executor.triggerCheckpoint(trigger)).toEqual({});
    expect(await executor.notifyCheckpointComplete({ epoch: 5n, executionId, checkpointId: 1n })).toEqual({});
    expect(await executor.abortCheckpoint({ epoch: 5n, executionId, checkpointId: 2n })).toEqual({});
    await expect(executor.triggerCheckpoint({ ...trigger, executionId: "nope" })).rejects.toThrow(
      /task nope of epoch 5 on taskmanager tm-1: not found/,
    );
    await expect(executor.triggerCheckpoint({ ...trigger, executionId: "nope" })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    // Notifications for unknown executions (or of another epoch) are no-ops.
    expect(
      await executor.notifyCheckpointComplete({ epoch: 5n, executionId: "nope", checkpointId: 1n }),
    ).toEqual({});
    expect(await executor.abortCheckpoint({ epoch: 6n, executionId, checkpointId: 3n })).toEqual({});
    expect(tasks.checkpointCommands).toEqual([
      `trigger ${executionId} 1`,
      `complete ${executionId} 1`,
      `abort ${executionId} 2`,
    ]);
  });

  it("refuses checkpoint commands of a deposed leader with both epochs", async () => {
    const { executor, events } = setup();
    const stale = { epoch: 4n, executionId: "x", checkpointId: 1n };
    await expect(executor.notifyCheckpointComplete(stale)).rejects.toBeInstanceOf(StaleEpochError);
    await expect(executor.triggerCheckpoint({ ...stale, timestampMs: 0n, savepoint: false })).rejects.toThrow(
      /epoch 4 is older than epoch 5/,
    );
    expect(events.of("command-rejected").map((e) => e["command"])).toEqual(["checkpoint", "checkpoint"]);
  });
});
