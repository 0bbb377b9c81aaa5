// A worker TaskManager of the streaming benchmarks, started by streaming-cluster.ts as
// `node --import tsx bench/streaming-worker.ts STORAGE_URI` with an IPC channel. It is a TaskManager's data
// plane without its control plane: the DataExchange service on an RpcServer and tasks run by the
// TaskManager's own stream task runner (src/taskmanager/stream-task-runner.ts: result partitions registered
// with the exchange, inputs as remote channels with credits, checkpoint acks reported up), with the exchange
// settings of DEFAULT_EXCHANGE_SETTINGS. The benchmark process stands in for the JobManager (deploy, checkpoint
// commands, acks) over IPC instead of gRPC. It also serves the raw-gRPC baseline (streaming-raw.ts).
import { performance } from "node:perf_hooks";
import { CancelledError, describeCause } from "../src/common/errors.ts";
import { silentLogger } from "../src/common/logger.ts";
import { ExchangeService } from "../src/exchange/exchange-service.ts";
import { ExchangeClients } from "../src/exchange/remote-channel.ts";
import { dataExchangeService } from "../src/exchange/wire.ts";
import type { TaskDescriptor } from "../src/generated/records.ts";
import type { FunctionLookup } from "../src/runtime/streaming/operators.ts";
import { RpcServer } from "../src/rpc/server.ts";
import { ApplicationFunctions } from "../src/taskmanager/application-functions.ts";
import { streamTaskRunner, taskBlobStore } from "../src/taskmanager/stream-task-runner.ts";
import type { TaskHandle } from "../src/taskmanager/task-runner.ts";
import { DEFAULT_EXCHANGE_SETTINGS } from "../src/taskmanager/taskmanager.ts";
import { benchFunctions, benchOperators, slowSinkTotal } from "./streaming-jobs.ts";
import type { Counter, WorkerMessage, WorkerOp, WorkerOps, WorkerRequest } from "./streaming-protocol.ts";
import { RawConsumers, RawProducers, rawExchangeService } from "./streaming-raw.ts";

/**
 * The benchmark's user functions, handed over as a loaded application's would be: the artifact download and
 * module load of ApplicationFunctions happen once per deployment, not per record, so they are left out.
 */
class BenchApplicationFunctions extends ApplicationFunctions {
  override async lookup(): Promise<FunctionLookup> {
    return benchFunctions;
  }
}

interface RunningTask {
  readonly handle: TaskHandle;
  readonly controller: AbortController;
  counter: Counter;
}

const storageDir = process.argv[2];
if (storageDir === undefined || process.send === undefined) {
  process.stderr.write(
    "usage: node --import tsx bench/streaming-worker.ts STORAGE_URI (with an IPC channel)\n",
  );
  process.exit(2);
}
const id = `bench-tm-${process.pid}`;
const send = (message: WorkerMessage): void => void process.send?.(message);

const settings = DEFAULT_EXCHANGE_SETTINGS;
const exchange = new ExchangeService({
  logger: silentLogger,
  subpartitionBuffers: settings.subpartitionBuffers,
  bufferRecords: settings.bufferRecords,
  flushMs: settings.flushMs,
  partitionWaitMs: settings.partitionWaitMs,
});
const clients = new ExchangeClients();
const rawProducers = new RawProducers(settings.bufferRecords);
const rawConsumers = new RawConsumers();
const server = new RpcServer({ host: "127.0.0.1", port: 0, logger: silentLogger });
server.addGrpcService(dataExchangeService, exchange.implementation);
server.addGrpcService(rawExchangeService, rawProducers.implementation);

const runTask = streamTaskRunner({
  id,
  storageDir,
  exchange,
  clients,
  functions: new BenchApplicationFunctions(id, () => taskBlobStore(storageDir, id)),
  creditBuffers: settings.creditBuffers,
  reportCheckpoint: (_epoch, executionId, checkpointId, outcome) =>
    send(
      "states" in outcome
        ? { kind: "ack", executionId, checkpointId, states: outcome.states }
        : { kind: "decline", executionId, checkpointId, reason: outcome.reason },
    ),
  logger: silentLogger,
  operators: benchOperators,
});
const tasks = new Map<string, RunningTask>();

function deploy(task: TaskDescriptor): void {
  const controller = new AbortController();
  const running: RunningTask = {
    controller,
    counter: { atMs: performance.now(), total: 0 },
    handle: runTask({
      task,
      epoch: task.epoch,
      signal: controller.signal,
      onRecords: (total) => {
        running.counter = { atMs: performance.now(), total };
      },
    }),
  };
  tasks.set(task.executionId, running);
  running.handle.done.then(
    () => send({ kind: "task-ended", executionId: task.executionId, error: undefined }),
    (e: unknown) => {
      if (!controller.signal.aborted)
        send({ kind: "task-ended", executionId: task.executionId, error: describeCause(e) });
    },
  );
}

async function cancelAll(): Promise<void> {
  const all = [...tasks.values()];
  tasks.clear();
  for (const t of all) t.controller.abort(new CancelledError("benchmark: round over"));
  await Promise.allSettled(all.map((t) => t.handle.done));
}

const handlers: { [K in WorkerOp]: (args: WorkerOps[K]["args"]) => Promise<WorkerOps[K]["result"]> } = {
  deploy: async ({ tasks: descriptors }) => {
    for (const t of descriptors) deploy(t);
    return undefined;
  },
  cancel: async () => {
    await cancelAll();
    return undefined;
  },
  counters: async () => {
    const out: Record<string, Counter> = {};
    for (const [executionId, t] of tasks) out[`task:${executionId}`] = t.counter;
    const now = performance.now();
    out["raw"] = { atMs: now, total: rawConsumers.total };
    out["slow-sink"] = { atMs: now, total: slowSinkTotal() };
    return out;
  },
  memory: async () => process.memoryUsage(),
  checkpoint: async ({ command, executionId, checkpointId, timestampMs }) => {
    const t = tasks.get(executionId)?.handle;
    if (command === "trigger") t?.triggerCheckpoint(checkpointId, timestampMs, "checkpoint");
    else if (command === "notify") t?.notifyCheckpointComplete(checkpointId);
    else t?.abortCheckpoint(checkpointId);
    return undefined;
  },
  "raw-produce": async ({ producers }) => {
    rawProducers.start(producers);
    return undefined;
  },
  "raw-consume": async ({ address, streams }) => {
    rawConsumers.start(address, streams);
    return undefined;
  },
  "raw-stop": async () => {
    rawConsumers.stop();
    await rawProducers.stop();
    return undefined;
  },
};

async function handle<K extends WorkerOp>(request: WorkerRequest<K>): Promise<void> {
  try {
    const value = await handlers[request.op](request.args);
    send({ kind: "reply", id: request.id, value });
  } catch (e: unknown) {
    send({ kind: "failed", id: request.id, error: describeCause(e) });
  }
}

async function shutdown(): Promise<void> {
  await cancelAll();
  rawConsumers.stop();
  await rawProducers.stop();
  clients.close();
  exchange.close();
  await server.shutdown(500);
  process.exit(0);
}

process.on("message", (message: WorkerRequest) => void handle(message));
// The benchmark process went away (or closed the channel to stop this worker): stop too.
process.on("disconnect", () => void shutdown());
send({ kind: "ready", address: await server.start() });
