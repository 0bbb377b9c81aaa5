// How a TaskManager runs a deployed task: the streaming runtime (runStreamTask) wired to this process. Its
// outputs are result partitions registered at once with the TaskManager's DataExchange service (consumers may
// ask before the producer's operators opened), its inputs are local channels to producers on this TaskManager
// and ReadPartition streams to the others (input-channels.ts), its user functions come from the job's
// artifact, and its checkpoint acks and declines go to the leader that deployed it. When the task fails or is
// cancelled its partitions are released, so its consumers fail instead of waiting for data that never comes.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ConfigError, describeCause } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import type { ExchangeService } from "../exchange/exchange-service.ts";
import { openInputChannel } from "../exchange/input-channels.ts";
import type { ExchangeClients } from "../exchange/remote-channel.ts";
import type { ResultPartition } from "../exchange/result-partition.ts";
import type { OperatorSubtaskState, TaskDescriptor } from "../generated/records.ts";
import { parseJobConfig } from "../runtime/job-config.ts";
import type { StreamOperatorRegistry } from "../runtime/streaming/registry.ts";
import { runStreamTask, type StreamTask } from "../runtime/streaming/task.ts";
import { FileBlobStore } from "../storage/blob-store.ts";
import type { ApplicationFunctions } from "./application-functions.ts";
import type { TaskHandle, TaskRunContext, TaskRunner } from "./task-runner.ts";

export type CheckpointOutcome = { readonly states: OperatorSubtaskState[] } | { readonly reason: string };

export interface StreamTaskRunnerOptions {
  /** This TaskManager's id, for messages. */
  readonly id: string;
  /** file:///… of the shared storage; undefined only in tests of tasks without state or user code. */
  readonly storageDir: string | undefined;
  readonly exchange: ExchangeService;
  readonly clients: ExchangeClients;
  /**
   * The address this TaskManager advertises, once it has one: inputs from producers deployed there read
   * through local channels even before the producer registered its partition. Default: only producers
   * whose partition is registered in `exchange` count as local.
   */
  readonly localAddress?: () => string | undefined;
  readonly functions: ApplicationFunctions;
  /** Buffers an input channel lets its producer send ahead. */
  readonly creditBuffers: number;
  /** Sends a checkpoint ack / decline to the leader of `epoch`. Must not throw. */
  readonly reportCheckpoint: (
    epoch: bigint,
    executionId: string,
    checkpointId: bigint,
    outcome: CheckpointOutcome,
  ) => void;
  readonly logger: Logger;
  readonly operators?: StreamOperatorRegistry;
  /** sink.print's output; default process.stdout. */
  readonly stdout?: (text: string) => void;
}

/** The blob store of `storageDir`, or a store under the temp dir for a TaskManager without storage (tests). */
export function taskBlobStore(storageDir: string | undefined, id: string): FileBlobStore {
  return new FileBlobStore(
    storageDir ?? pathToFileURL(join(tmpdir(), `vigil-no-storage-${id.replace(/[^\w.-]/g, "_")}`)).href,
  );
}

export function streamTaskRunner(options: StreamTaskRunnerOptions): TaskRunner {
  const blobs = taskBlobStore(options.storageDir, options.id);
  return (context) => startTask(options, blobs, context);
}

function startTask(
  options: StreamTaskRunnerOptions,
  blobs: FileBlobStore,
  context: TaskRunContext,
): TaskHandle {
  const { task, epoch, signal } = context;
  const { exchange } = options;
  const consumerSide = {
    exchange,
    clients: options.clients,
    localAddress: options.localAddress ?? (() => undefined),
  };
  // Commands that arrive while the functions load run once the task is started.
  const queued: ((t: StreamTask) => void)[] = [];
  let stream: StreamTask | undefined;
  const command = (action: (t: StreamTask) => void): void => {
    if (stream !== undefined) action(stream);
    else queued.push(action);
  };
  const done = (async () => {
    const partitions = new Map<string, ResultPartition>();
    try {
      for (const output of task.outputs) {
        partitions.set(
          output.downstreamVertex,
          exchange.registerPartition(task.executionId, output.downstreamVertex, output.consumers, epoch),
        );
      }
      const checkpointing = checkpointingOf(task, options.storageDir, options.id);
      const functions = await options.functions.lookup(task, signal);
      signal.throwIfAborted();
      const started = runStreamTask({
        task,
        signal,
        blobs,
        functions,
        checkpointing,
        openOutput: (output, subpartition) => {
          const channel = partitions.get(output.downstreamVertex)?.subpartitions[subpartition];
          if (channel === undefined) {
            throw new ConfigError(
              `task ${task.executionId}: no subpartition ${subpartition} of the output to ${output.downstreamVertex}`,
            );
          }
          return channel;
        },
        openInput: (gate, producer) =>
          openInputChannel(consumerSide, {
            address: producer.taskmanagerAddress,
            producerExecutionId: producer.executionId,
            downstreamVertex: gate.targetVertex,
            subpartition: task.subtask,
            epoch,
            creditBuffers: options.creditBuffers,
            signal,
          }),
        ack: (checkpointId, states) =>
          options.reportCheckpoint(epoch, task.executionId, checkpointId, { states }),
        decline: (checkpointId, reason) =>
          options.reportCheckpoint(epoch, task.executionId, checkpointId, { reason }),
        onRecords: (total) => context.onRecords(total),
        ...(options.operators ? { operators: options.operators } : {}),
        ...(options.stdout ? { stdout: options.stdout } : {}),
      });
      stream = started;
      for (const action of queued.splice(0)) action(started);
      await started.done;
    } catch (e: unknown) {
      const reason = signal.aborted
        ? `producer task ${task.executionId} was cancelled`
        : `producer task ${task.executionId} failed: ${describeCause(e)}`;
      exchange.releasePartitionsOf(task.executionId, reason);
      throw e;
    }
  })();
  return {
    done,
    triggerCheckpoint: (id, timestampMs, kind) => command((t) => t.triggerCheckpoint(id, timestampMs, kind)),
    notifyCheckpointComplete: (id) => command((t) => t.notifyCheckpointComplete(id)),
    abortCheckpoint: (id) => command((t) => t.abortCheckpoint(id)),
  };
}

/** Whether the job takes checkpoints (periodic ones: savepoint-only jobs need no final checkpoint). */
function checkpointingOf(task: TaskDescriptor, storageDir: string | undefined, id: string): boolean {
  const graph = task.jobGraph;
  if (graph === undefined) return false;
  const config = parseJobConfig(graph.configJson, `task ${task.executionId}: job config`);
  const checkpointing = config.checkpointing.intervalMs > 0;
  if ((checkpointing || task.restore.length > 0) && storageDir === undefined) {
    throw new ConfigError(
      `task ${task.executionId}: taskmanager ${id} has no storage dir, but the job takes checkpoints; start it with --storage-dir`,
    );
  }
  return checkpointing;
}
