// One JobManager without its RPC server: the HA backend, leader retrieval, the election, the dispatcher and
// the resource-manager endpoint. JobManager serves these over gRPC; unit tests call them in-process.

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LifecycleError } from "../common/errors.ts";
import type { EventSink } from "../common/events.ts";
import type { Logger } from "../common/logger.ts";
import type { HaConfig } from "../config/ha-config.ts";
import type { DispatcherService, ResourceManagerService } from "../generated/services.ts";
import type { HaBackend } from "../ha/backend.ts";
import { createHaBackend } from "../ha/factory.ts";
import { ObservedStateHandleStore } from "../ha/observed-store.ts";
import { JOBMANAGER_ELECTION } from "../ha/keys.ts";
import { LeaderElectionService } from "../ha/leader-election-service.ts";
import { LeaderRetrievalService } from "../ha/leader-retrieval-service.ts";
import type { MemoryCoordinator } from "../ha/memory/index.ts";
import { JobGraphStore } from "../ha/stores/job-graph-store.ts";
import { JobResultStore } from "../ha/stores/job-result-store.ts";
import { TaskManagerRegistryStore } from "../ha/stores/task-manager-registry-store.ts";
import { FileBlobStore } from "../storage/blob-store.ts";
import { Dispatcher } from "./dispatcher.ts";
import { resourceManagerEndpoint, type TaskExecutorClient } from "./resource-manager.ts";

export interface JobManagerCoreOptions {
  readonly name: string;
  readonly ha: HaConfig;
  readonly storageDir: string | undefined;
  /** Default savepoint directory (absolute path); default: "savepoints" in the storage directory. */
  readonly savepointDir?: string | undefined;
  /** TEST ONLY: see DispatcherOptions.unsafeAckBeforeStoreMs. */
  readonly unsafeAckBeforeStoreMs?: number | undefined;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly logger: Logger;
  readonly events: EventSink;
  readonly memory?: MemoryCoordinator;
  readonly connectTaskExecutor: (address: string) => TaskExecutorClient;
}

type State = "created" | "started" | "closed";

export class JobManagerCore {
  readonly dispatcher: DispatcherService;
  readonly resourceManager: ResourceManagerService;
  private readonly contender: Dispatcher;
  private state: State = "created";
  private readonly backend: HaBackend;
  private election: LeaderElectionService | undefined;
  private retrieval: LeaderRetrievalService | undefined;
  private resigning: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: JobManagerCoreOptions) {
    this.backend = createHaBackend(options.ha, options.logger, options.memory);
    // Every fenced write reports its outcome (store-write / store-write-refused): the chaos checkers' evidence.
    const store = new ObservedStateHandleStore(
      this.backend.store,
      options.events,
      options.ha.backend === "etcd",
    );
    const blobs = options.storageDir === undefined ? undefined : new FileBlobStore(options.storageDir);
    this.contender = new Dispatcher({
      name: options.name,
      graphs: new JobGraphStore(store, blobs),
      results: new JobResultStore(store),
      registry: new TaskManagerRegistryStore(store),
      store,
      blobs,
      savepointDir:
        options.savepointDir ??
        (options.storageDir === undefined
          ? undefined
          : join(fileURLToPath(options.storageDir), "savepoints")),
      unsafeAckBeforeStoreMs: options.unsafeAckBeforeStoreMs,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs,
      safetyMarginMs: options.ha.safetyMarginMs,
      connectTaskExecutor: options.connectTaskExecutor,
      events: options.events,
      logger: options.logger,
    });
    this.dispatcher = this.contender;
    this.resourceManager = resourceManagerEndpoint(() => this.contender.leader().resourceManager);
  }

  /** The HA backend (tests partition or expire a memory backend through it). */
  get haBackend(): HaBackend {
    return this.backend;
  }

  /** Connects the backend, follows the leader, then campaigns with `address` as ours. Once only. */
  async start(address: string): Promise<void> {
    if (this.state !== "created")
      throw new LifecycleError(`jobmanager ${this.options.name}: start() called when ${this.state}`);
    this.state = "started";
    const backend = this.backend;
    await backend.connect();
    this.retrieval = new LeaderRetrievalService(backend.createRetrievalDriver(JOBMANAGER_ELECTION));
    await this.retrieval.start({
      notifyLeader: (info) => this.contender.notifyLeader(info),
      handleError: (e) =>
        this.options.logger.debug("leader retrieval reported a problem", { error: e.message }),
    });
    this.election = new LeaderElectionService(
      backend.createElectionDriver(JOBMANAGER_ELECTION),
      this.options.name,
      this.options.logger,
    );
    this.contender.bind(this.election, address);
    this.options.events({ event: "jobmanager-started", name: this.options.name, address });
    await this.election.start(this.contender);
  }

  /**
   * Resigns (a standby takes over at once; our contender hears its revoke first and stops every job master)
   * and waits until the job masters have stopped. Idempotent.
   */
  resign(): Promise<void> {
    this.resigning ??= (async () => {
      // First: a grant still recovering would otherwise hold the revoke that close() queues behind it.
      this.contender.resign();
      await this.election?.close();
      await this.contender.drained();
    })();
    return this.resigning;
  }

  /** Resigns, stops following the leader and closes the backend. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.state = "closed";
      try {
        await this.resign();
      } finally {
        await this.retrieval?.close();
        await this.backend.close();
      }
    })();
    return this.closing;
  }
}
