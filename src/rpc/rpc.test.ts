import { afterEach, describe, expect, it } from "vitest";
import {
  CancelledError,
  DeadlineExceededError,
  InternalError,
  InvalidArgumentError,
  LifecycleError,
  NotFoundError,
  NotLeaderError,
  StaleEpochError,
  UnavailableError,
  type VigilError,
} from "../common/errors.ts";
import { createLogger } from "../common/logger.ts";
import type { CancelTaskRequest, CancelTaskResponse } from "../generated/records.ts";
import {
  DispatcherMethods,
  type DispatcherService,
  ResourceManagerMethods,
  type ResourceManagerService,
  TaskExecutorMethods,
  type TaskExecutorService,
} from "../generated/services.ts";
import { waitUntil } from "../ha/testing.ts";
import type { CallOptions, MethodTable } from "./call.ts";
import { createClient, type RpcClient } from "./client.ts";
import { ConnectionLostError } from "./errors.ts";
import { RpcServer } from "./server.ts";

/** The checkpoint commands of TaskExecutorService, answered trivially (these tests exercise deploy/cancel). */
const noCheckpoints = {
  triggerCheckpoint: async () => ({}),
  notifyCheckpointComplete: async () => ({}),
  abortCheckpoint: async () => ({}),
};

const logLines: string[] = [];
const logger = createLogger("debug", {}, (line) => logLines.push(line));
const open: Array<{ close(): void } | RpcServer> = [];

afterEach(async () => {
  for (const o of open.splice(0).reverse()) {
    if (o instanceof RpcServer) await o.shutdown(0);
    else o.close();
  }
  logLines.length = 0;
});

/** A TaskExecutor whose cancelTask runs `behaviour`; deployTask is never called here. */
async function serve(
  behaviour: (request: CancelTaskRequest, options: CallOptions) => Promise<CancelTaskResponse>,
): Promise<{ server: RpcServer; client: RpcClient<TaskExecutorService>; address: string }> {
  const server = new RpcServer({ host: "127.0.0.1", port: 0, logger });
  const handler: TaskExecutorService = {
    ...noCheckpoints,
    deployTask: async () => ({}),
    cancelTask: (request, options) => behaviour(request, options ?? {}),
  };
  server.addService(TaskExecutorMethods, handler);
  open.push(server);
  const address = await server.start();
  const client = createClient<TaskExecutorService>(TaskExecutorMethods, address);
  open.push(client);
  return { server, client, address };
}

/** A handler that records its call's signal and waits until it aborts (or `release` is called). */
function stuck() {
  const seen: { signal?: AbortSignal | undefined; timeoutMs?: number } = {};
  let release: () => void = () => {};
  const behaviour = (_r: CancelTaskRequest, o: CallOptions) =>
    new Promise<CancelTaskResponse>((resolve, reject) => {
      seen.signal = o.signal;
      if (o.timeoutMs !== undefined) seen.timeoutMs = o.timeoutMs;
      release = () => resolve({ state: "EXECUTION_STATE_CANCELED" });
      o.signal?.addEventListener("abort", () => reject(o.signal?.reason));
    });
  return { seen, behaviour, release: () => release() };
}

async function failure(p: Promise<unknown>): Promise<VigilError> {
  return p.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => e as VigilError,
  );
}

describe("RpcServer and createClient over loopback", () => {
  it("round-trips a request with 64-bit values and binds a free port", async () => {
    const { client, address } = await serve(async (r) => ({
      state:
        r.epoch === 2n ** 40n + 1n && r.executionId === "j/v/0/1@7"
          ? "EXECUTION_STATE_CANCELED"
          : "EXECUTION_STATE_FAILED",
    }));
    expect(address).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
    expect(client.address).toBe(address);
    const answer = await client.cancelTask({ epoch: 2n ** 40n + 1n, executionId: "j/v/0/1@7" });
    expect(answer).toEqual({ state: "EXECUTION_STATE_CANCELED" });
  });

  it("hands the handler the caller's remaining deadline", async () => {
    const s = stuck();
    const { client } = await serve(s.behaviour);
    const call = client.cancelTask({ epoch: 1n, executionId: "x" }, { timeoutMs: 3_000 });
    await waitUntil(() => s.seen.signal !== undefined);
    expect(s.seen.timeoutMs).toBeGreaterThan(2_000);
    expect(s.seen.timeoutMs).toBeLessThanOrEqual(3_000);
    s.release();
    expect(await call).toEqual({ state: "EXECUTION_STATE_CANCELED" });
  });

  it("maps each error family back: NotLeader keeps its address, StaleEpoch its code and message", async () => {
    const errors: Record<string, Error> = {
      leader: new NotLeaderError("10.1.2.3:6123"),
      stale: new StaleEpochError(4n, 9n, "cancel j/v/0/0@4"),
      missing: new NotFoundError("jobs/j1"),
      invalid: new InvalidArgumentError("vertex v2: parallelism 0; use 1 or more"),
      bug: new TypeError("cannot read properties of undefined"),
    };
    const { client } = await serve(async (r) => {
      throw errors[r.executionId];
    });
    const leader = await failure(client.cancelTask({ epoch: 1n, executionId: "leader" }));
    expect(leader).toBeInstanceOf(NotLeaderError);
    expect((leader as NotLeaderError).leaderAddress).toBe("10.1.2.3:6123");
    const stale = await failure(client.cancelTask({ epoch: 4n, executionId: "stale" }));
    expect(stale.code).toBe("STALE_EPOCH");
    expect(stale.message).toBe(errors["stale"]!.message);
    expect((await failure(client.cancelTask({ epoch: 1n, executionId: "missing" }))).code).toBe("NOT_FOUND");
    const invalid = await failure(client.cancelTask({ epoch: 1n, executionId: "invalid" }));
    expect(invalid).toBeInstanceOf(InvalidArgumentError);
    expect(invalid.message).toBe("vertex v2: parallelism 0; use 1 or more");
    const bug = await failure(client.cancelTask({ epoch: 1n, executionId: "bug" }));
    expect(bug).toBeInstanceOf(InternalError);
    expect(bug.message).toContain("cannot read properties of undefined");
    expect(logLines.filter((l) => l.includes("ERROR"))).toHaveLength(1);
  });

  it("fails a call past its deadline with DeadlineExceededError and aborts the handler's signal", async () => {
    const s = stuck();
    const { client, address } = await serve(s.behaviour);
    const error = await failure(client.cancelTask({ epoch: 1n, executionId: "x" }, { timeoutMs: 150 }));
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect(error.message).toBe(
      `TaskExecutor/CancelTask to ${address}: no answer within 150 ms; outcome unknown`,
    );
    await waitUntil(() => s.seen.signal?.aborted === true);
  });

  it("cancels a call on its AbortSignal: CancelledError for the caller, an aborted signal for the handler", async () => {
    const s = stuck();
    const { client } = await serve(s.behaviour);
    const controller = new AbortController();
    const call = failure(client.cancelTask({ epoch: 1n, executionId: "x" }, { signal: controller.signal }));
    await waitUntil(() => s.seen.signal !== undefined);
    controller.abort();
    expect(await call).toBeInstanceOf(CancelledError);
    await waitUntil(() => s.seen.signal?.aborted === true);
    const early = await failure(
      client.cancelTask({ epoch: 1n, executionId: "y" }, { signal: controller.signal }),
    );
    expect(early).toBeInstanceOf(CancelledError);
  });

  it("fails fast with UnavailableError naming the address when nothing listens there", async () => {
    const { server, address } = await serve(async () => ({ state: "EXECUTION_STATE_CANCELED" }));
    await server.shutdown();
    const client = createClient<TaskExecutorService>(TaskExecutorMethods, address, { timeoutMs: 5_000 });
    open.push(client);
    const started = performance.now();
    const error = await failure(client.cancelTask({ epoch: 1n, executionId: "x" }));
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error).not.toBeInstanceOf(ConnectionLostError);
    expect(error.message).toContain(address);
    expect(error.message).toContain("TaskExecutor/CancelTask");
    expect(error.message).toContain("not delivered");
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("lets an in-flight call finish on graceful shutdown", async () => {
    const s = stuck();
    const { server, client } = await serve(s.behaviour);
    const call = client.cancelTask({ epoch: 1n, executionId: "x" });
    await waitUntil(() => s.seen.signal !== undefined);
    const stopped = server.shutdown(5_000);
    setTimeout(() => s.release(), 50);
    expect(await call).toEqual({ state: "EXECUTION_STATE_CANCELED" });
    await stopped;
    expect(s.seen.signal?.aborted).toBe(false);
  });

  it("forces a stuck call to end after the grace period", async () => {
    const s = stuck();
    const { server, client } = await serve(s.behaviour);
    const call = failure(client.cancelTask({ epoch: 1n, executionId: "x" }, { timeoutMs: 10_000 }));
    await waitUntil(() => s.seen.signal !== undefined);
    const started = performance.now();
    await server.shutdown(100);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(s.seen.signal?.aborted).toBe(true);
    const error = await call;
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect(error.message).toContain("outcome unknown");
  });

  it("types services from the generated tables, inferred or given, with handler classes that have more members", async () => {
    const tables: [
      MethodTable<DispatcherService>,
      MethodTable<ResourceManagerService>,
      MethodTable<TaskExecutorService>,
    ] = [DispatcherMethods, ResourceManagerMethods, TaskExecutorMethods];
    expect(tables.map((t) => Object.keys(t).length)).toEqual([8, 5, 5]);
    class Executor implements TaskExecutorService {
      cancelled = 0;
      triggerCheckpoint = noCheckpoints.triggerCheckpoint;
      notifyCheckpointComplete = noCheckpoints.notifyCheckpointComplete;
      abortCheckpoint = noCheckpoints.abortCheckpoint;
      async deployTask() {
        return {};
      }
      async cancelTask(_r: CancelTaskRequest): Promise<CancelTaskResponse> {
        this.cancelled++;
        return { state: "EXECUTION_STATE_CANCELED" };
      }
      close(): void {}
    }
    const executor = new Executor();
    const server = new RpcServer({ host: "127.0.0.1", port: 0, logger });
    open.push(server);
    server.addService(TaskExecutorMethods, executor);
    const other = new RpcServer({ host: "127.0.0.1", port: 0, logger });
    other.addService<TaskExecutorService>(TaskExecutorMethods, executor);
    await other.shutdown();
    const inferred: TaskExecutorService = createClient(TaskExecutorMethods, await server.start());
    open.push(inferred as RpcClient<TaskExecutorService>);
    await inferred.cancelTask({ epoch: 1n, executionId: "x" });
    expect(executor.cancelled).toBe(1);

    // Handlers and requests that do not fit the table are compile errors (and a missing method a runtime one).
    const unstarted = new RpcServer({ host: "127.0.0.1", port: 0, logger });
    const partial = { deployTask: async () => ({}) };
    // @ts-expect-error cancelTask is missing
    const inferredMissing = () => unstarted.addService(TaskExecutorMethods, partial);
    // @ts-expect-error cancelTask is missing
    const givenMissing = () => unstarted.addService<TaskExecutorService>(TaskExecutorMethods, partial);
    expect(inferredMissing).toThrow(/cancelTask/);
    expect(givenMissing).toThrow(/cancelTask/);
    const closed = createClient(TaskExecutorMethods, "127.0.0.1:1");
    closed.close();
    // @ts-expect-error epoch is a bigint and executionId is required
    await expect(closed.cancelTask({ epoch: 1 })).rejects.toBeInstanceOf(LifecycleError);
  });

  it("enforces its lifecycle: shutdown before start and twice is safe, closed clients refuse calls", async () => {
    const idle = new RpcServer({ host: "127.0.0.1", port: 0, logger });
    await idle.shutdown();
    await idle.shutdown();
    await expect(idle.start()).rejects.toBeInstanceOf(LifecycleError);
    const { server, client } = await serve(async () => ({ state: "EXECUTION_STATE_CANCELED" }));
    expect(() => server.addService(TaskExecutorMethods, {} as TaskExecutorService)).toThrow(LifecycleError);
    client.close();
    client.close();
    const error = await failure(client.cancelTask({ epoch: 1n, executionId: "x" }));
    expect(error).toBeInstanceOf(LifecycleError);
    expect(error.message).toContain("closed");
  });
});
