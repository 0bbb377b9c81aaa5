// One TaskManager process's composition: the TaskExecutor and DataExchange services on one RPC server, the HA
// backend (leader retrieval only; a TaskManager never writes to the HA store), the connection to the
// JobManagers' leader, and the streaming runtime that runs the deployed tasks (stream-task-runner.ts).
import { ConfigError, describeCause, LifecycleError } from "../common/errors.ts";
import type { EventSink } from "../common/events.ts";
import type { Logger } from "../common/logger.ts";
import type { HaConfig } from "../config/ha-config.ts";
import { ExchangeService } from "../exchange/exchange-service.ts";
import { ExchangeClients } from "../exchange/remote-channel.ts";
import { dataExchangeService } from "../exchange/wire.ts";
import type { TaskExecutorService } from "../generated/services.ts";
import {
  ResourceManagerMethods,
  type ResourceManagerService,
  TaskExecutorMethods,
} from "../generated/services.ts";
import type { HaBackend } from "../ha/backend.ts";
import { createHaBackend } from "../ha/factory.ts";
import { JOBMANAGER_ELECTION } from "../ha/keys.ts";
import { LeaderRetrievalService } from "../ha/leader-retrieval-service.ts";
import type { MemoryCoordinator } from "../ha/memory/index.ts";
import { advertisedAddress } from "../rpc/address.ts";
import { createClient } from "../rpc/client.ts";
import { RpcServer } from "../rpc/server.ts";
import { FileBlobStore } from "../storage/blob-store.ts";
import { ApplicationFunctions } from "./application-functions.ts";
import type { TaskCancellationTimeoutError } from "./cancellation-watchdog.ts";
import { EpochFence } from "./epoch-fence.ts";
import { LeaderConnection } from "./leader-connection.ts";
import { DEFAULT_HEARTBEAT_TIMEOUT_MS } from "./registration.ts";
import { streamTaskRunner } from "./stream-task-runner.ts";
import { TaskExecutor } from "./task-executor.ts";
import type { TaskRunner } from "./task-runner.ts";

/** The data exchange's buffers (defaults in DEFAULT_EXCHANGE_SETTINGS). */
export interface ExchangeSettings {
  /** Buffers a subpartition holds before its consumer takes them. */
  readonly subpartitionBuffers: number;
  /** Records per buffer. */
  readonly bufferRecords: number;
  /** How long records may wait for a buffer to fill. */
  readonly flushMs: number;
  /** Buffers an input channel lets its producer send ahead. */
  readonly creditBuffers: number;
  /** How long a consumer's request waits for its producer to register the partition. */
  readonly partitionWaitMs: number;
}

export const DEFAULT_EXCHANGE_SETTINGS: ExchangeSettings = {
  subpartitionBuffers: 8,
  bufferRecords: 512,
  flushMs: 5,
  creditBuffers: 4,
  // Deployments race: a consumer may ask long before its producer, deployed to another TaskManager, started.
  partitionWaitMs: 30_000,
};

export interface TaskManagerOptions {
  /** Unique TaskManager id (the CLI's --name). */
  readonly id: string;
  /** For leader retrieval only. */
  readonly ha: HaConfig;
  /** file:///… of the shared storage: state snapshots, application artifacts. */
  readonly storageDir: string | undefined;
  /** Bind address, e.g. "127.0.0.1". */
  readonly rpcHost: string;
  /** Host published to other processes; default rpcHost, or this machine's hostname for a wildcard bind. */
  readonly advertisedHost?: string | undefined;
  /** 0 = any free port. */
  readonly rpcPort: number;
  readonly slots: number;
  readonly logger: Logger;
  readonly events: EventSink;
  /**
   * Called when tasks did not stop by their cancellation deadline (after the event `fatal` and an error log):
   * a task that ignores its abort may outlive its lease, and only ending the process stops it. The CLI exits
   * 70; library code never exits the process itself, so every embedder decides (tests record it).
   */
  readonly onFatalError: (error: TaskCancellationTimeoutError) => void;
  /**
   * How long cancelled tasks (leader's cancel, new leader) may take to stop before that is fatal; default the
   * heartbeat timeout of the latest registration. Tasks of an ended lease must be dead by its end regardless,
   * and close() allows the RPC shutdown grace period.
   */
  readonly taskCancellationTimeoutMs?: number;
  /** Unit tests only. */
  readonly memory?: MemoryCoordinator;
  /** How to reach a leader; default createClient(ResourceManagerMethods, address). Tests inject fakes. */
  readonly connectResourceManager?: (address: string) => ResourceManagerService & { close(): void };
  /** Runs one task; default the streaming runtime (stream-task-runner.ts). Tests inject controllable fakes. */
  readonly runTask?: TaskRunner;
  readonly exchange?: Partial<ExchangeSettings>;
  /** sink.print's output; default process.stdout. */
  readonly stdout?: (text: string) => void;
}

/** How long close() lets in-flight RPCs finish before the server forces them closed. */
const SHUTDOWN_GRACE_MS = 2_000;

type State = "created" | "starting" | "started" | "closed";

export class TaskManager {
  private state: State = "created";
  private bound: string | undefined;
  private readonly fence = new EpochFence();
  private readonly executor: TaskExecutor;
  private readonly exchange: ExchangeService;
  private readonly clients = new ExchangeClients();
  private readonly functions: ApplicationFunctions;
  private blobs: FileBlobStore | undefined;
  private readonly logger: Logger;
  private server: RpcServer | undefined;
  private backend: HaBackend | undefined;
  private retrieval: LeaderRetrievalService | undefined;
  private connection: LeaderConnection | undefined;
  private starting: Promise<string> | undefined;
  private closing: Promise<void> | undefined;
  private closeRequested = false;
  private teardownDone: Promise<void> | undefined;

  constructor(private readonly options: TaskManagerOptions) {
    if (!Number.isInteger(options.slots) || options.slots < 1) {
      throw new ConfigError(
        `taskmanager ${options.id}: slots must be a positive integer, got ${options.slots}`,
      );
    }
    this.logger = options.logger.child({ taskmanager: options.id });
    const exchange: ExchangeSettings = { ...DEFAULT_EXCHANGE_SETTINGS, ...options.exchange };
    this.exchange = new ExchangeService({
      logger: this.logger,
      subpartitionBuffers: exchange.subpartitionBuffers,
      bufferRecords: exchange.bufferRecords,
      flushMs: exchange.flushMs,
      partitionWaitMs: exchange.partitionWaitMs,
    });
    this.functions = new ApplicationFunctions(options.id, () => this.blobStore());
    const runTask =
      options.runTask ??
      streamTaskRunner({
        id: options.id,
        storageDir: options.storageDir,
        exchange: this.exchange,
        clients: this.clients,
        localAddress: () => this.bound,
        functions: this.functions,
        creditBuffers: exchange.creditBuffers,
        reportCheckpoint: (epoch, execution, checkpointId, outcome) =>
          this.connection?.reportCheckpoint(epoch, execution, checkpointId, outcome),
        logger: this.logger,
        ...(options.stdout ? { stdout: options.stdout } : {}),
      });
    this.executor = new TaskExecutor({
      id: options.id,
      slots: options.slots,
      fence: this.fence,
      registration: () => this.connection?.registration,
      awaitRegistration: (epoch, signal) =>
        this.connection?.awaitRegistration(epoch, signal) ?? Promise.resolve(),
      runTask,
      onStateChange: (change) => this.connection?.reportTaskState(change),
      cancellationTimeoutMs: () =>
        this.connection?.cancellationTimeoutMs ??
        options.taskCancellationTimeoutMs ??
        DEFAULT_HEARTBEAT_TIMEOUT_MS,
      onFatalError: options.onFatalError,
      logger: this.logger,
      events: options.events,
    });
  }

  /**
   * Serves TaskExecutor on an RpcServer, connects the HA backend, follows the JobManagers' leader and registers
   * with it (no leader need exist yet: it waits). Resolves with the bound "host:port". Once only; on failure
   * everything started so far is closed again.
   */
  start(): Promise<string> {
    if (this.state !== "created") {
      return Promise.reject(new LifecycleError(`taskmanager ${this.options.id} was already started`));
    }
    this.state = "starting";
    this.starting = this.doStart();
    return this.starting;
  }

  get address(): string {
    if (this.bound === undefined) throw new LifecycleError(`taskmanager ${this.options.id} is not started`);
    return this.bound;
  }

  /**
   * What the data exchange opened so far: ReadPartition streams served to consumers on other TaskManagers,
   * local channels to producers on this one, and connections to other TaskManagers. For tests and metrics.
   */
  get exchangeCounts(): {
    readonly streams: number;
    readonly localChannels: number;
    readonly connections: number;
  } {
    return { ...this.exchange.opened, connections: this.clients.size };
  }

  /** The TaskExecutor service this TaskManager serves, for in-process callers (tests wiring a leader without gRPC). */
  get taskExecutor(): TaskExecutorService {
    return this.executor;
  }

  /**
   * Graceful: stops following the leader, cancels every task and waits until all have stopped, at most the
   * shutdown grace period, after which a task still running is a fatal error (their final states are pushed
   * to the leader, best effort), stops the RPC server (grace, then force), closes the
   * backend. Idempotent.
   */
  close(): Promise<void> {
    if (!this.closing) {
      this.closeRequested = true;
      // Not waiting for a start() in progress: tearing down what it made so far ends its pending step.
      this.closing = this.teardown().then(() =>
        this.starting?.then(
          () => undefined,
          () => undefined,
        ),
      );
    }
    return this.closing;
  }

  /** The shared storage, for application artifacts. */
  private blobStore(): FileBlobStore {
    if (this.options.storageDir === undefined) {
      throw new ConfigError(
        `taskmanager ${this.options.id} has no storage dir, so it cannot fetch application artifacts; start it with --storage-dir`,
      );
    }
    this.blobs ??= new FileBlobStore(this.options.storageDir);
    return this.blobs;
  }

  private async doStart(): Promise<string> {
    const { options, logger } = this;
    const interrupted = (): void => {
      if (this.closeRequested)
        throw new LifecycleError(`taskmanager ${options.id} was closed while starting`);
    };
    try {
      const server = new RpcServer({ host: options.rpcHost, port: options.rpcPort, logger });
      this.server = server;
      const executor = this.executor;
      // Bound functions: the server may call handler methods detached from their object.
      server.addService<TaskExecutorService>(TaskExecutorMethods, {
        deployTask: (request, callOptions) => executor.deployTask(request, callOptions),
        cancelTask: (request, callOptions) => executor.cancelTask(request, callOptions),
        triggerCheckpoint: (request) => executor.triggerCheckpoint(request),
        notifyCheckpointComplete: (request) => executor.notifyCheckpointComplete(request),
        abortCheckpoint: (request) => executor.abortCheckpoint(request),
      });
      server.addGrpcService(dataExchangeService, this.exchange.implementation);
      const address = advertisedAddress(await server.start(), options.advertisedHost);
      this.bound = address;
      interrupted();
      this.connection = new LeaderConnection({
        id: options.id,
        address,
        slots: options.slots,
        fence: this.fence,
        executor,
        connect:
          options.connectResourceManager ??
          ((leader) => createClient<ResourceManagerService>(ResourceManagerMethods, leader)),
        logger,
        events: options.events,
        ...(options.taskCancellationTimeoutMs === undefined
          ? {}
          : { taskCancellationTimeoutMs: options.taskCancellationTimeoutMs }),
      });
      const backend = createHaBackend(options.ha, logger, options.memory);
      this.backend = backend;
      await backend.connect();
      interrupted();
      const retrieval = new LeaderRetrievalService(backend.createRetrievalDriver(JOBMANAGER_ELECTION));
      this.retrieval = retrieval;
      await retrieval.start(this.connection);
      interrupted();
      this.state = "started";
      logger.info("taskmanager started", { address, slots: options.slots });
      options.events({ event: "taskmanager-started", id: options.id, address, slots: options.slots });
      return address;
    } catch (e: unknown) {
      await this.teardown();
      throw e;
    }
  }

  private teardown(): Promise<void> {
    this.teardownDone ??= (async () => {
      const step = async (what: string, action: () => Promise<void> | undefined): Promise<void> => {
        try {
          await action();
        } catch (e: unknown) {
          this.logger.warn(`close: ${what} failed`, { error: describeCause(e) });
        }
      };
      // Retrieval first, so that no new leader is followed while tasks stop; the connection stays up until
      // the tasks have stopped so that their final states still reach the leader.
      await step("stopping leader retrieval", () => this.retrieval?.close());
      await step("cancelling tasks", () => this.executor.close(SHUTDOWN_GRACE_MS));
      await step("disconnecting from the leader", () => this.connection?.close());
      // The exchange's streams are long-lived: end them first, or the server's graceful shutdown waits for them.
      await step("closing the data exchange", async () => {
        this.exchange.close();
        this.clients.close();
      });
      await step("stopping the RPC server", () => this.server?.shutdown(SHUTDOWN_GRACE_MS));
      await step("removing cached applications", () => this.functions?.close());
      await step("closing the HA backend", () => this.backend?.close());
      if (this.state !== "created") this.logger.info("taskmanager closed");
      this.state = "closed";
    })();
    return this.teardownDone;
  }
}
