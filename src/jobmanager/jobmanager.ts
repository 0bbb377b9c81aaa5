// One JobManager process's composition: the HA core (backend, retrieval, election, dispatcher, resource
// manager) served on one gRPC server. Every replica serves both services; standbys answer with the leader's
// address.
import type { EventSink } from "../common/events.ts";
import type { Logger } from "../common/logger.ts";
import type { HaConfig } from "../config/ha-config.ts";
import type { TaskExecutorService } from "../generated/services.ts";
import { DispatcherMethods, ResourceManagerMethods, TaskExecutorMethods } from "../generated/services.ts";
import type { MemoryCoordinator } from "../ha/memory/index.ts";
import { advertisedAddress } from "../rpc/address.ts";
import { createClient } from "../rpc/client.ts";
import { RpcServer } from "../rpc/server.ts";
import { JobManagerCore } from "./jobmanager-core.ts";

export interface JobManagerOptions {
  readonly name: string;
  readonly ha: HaConfig;
  /** file:///… for JobGraph blobs; undefined = none. */
  readonly storageDir: string | undefined;
  /** Default savepoint directory (absolute path); default: "savepoints" in the storage directory. */
  readonly savepointDir?: string | undefined;
  /** TEST ONLY: see DispatcherOptions.unsafeAckBeforeStoreMs. */
  readonly unsafeAckBeforeStoreMs?: number | undefined;
  /** Bind address, e.g. "127.0.0.1". */
  readonly rpcHost: string;
  /** Host published to other processes; default rpcHost, or this machine's hostname for a wildcard bind. */
  readonly advertisedHost?: string | undefined;
  /** 0 = any free port. */
  readonly rpcPort: number;
  /** Told to TaskManagers at registration. */
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly logger: Logger;
  readonly events: EventSink;
  /** Unit tests only. */
  readonly memory?: MemoryCoordinator;
  /** How to reach a TaskManager; default createClient(TaskExecutorMethods, address). Tests inject fakes. */
  readonly connectTaskExecutor?: (address: string) => TaskExecutorService & { close(): void };
}

export const JOBMANAGER_DEFAULTS = { heartbeatIntervalMs: 500, heartbeatTimeoutMs: 2_000 } as const;

export class JobManager {
  private readonly core: JobManagerCore;
  private readonly server: RpcServer;
  private boundAddress: string | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: JobManagerOptions) {
    this.core = new JobManagerCore({
      name: options.name,
      ha: options.ha,
      storageDir: options.storageDir,
      savepointDir: options.savepointDir,
      unsafeAckBeforeStoreMs: options.unsafeAckBeforeStoreMs,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs,
      logger: options.logger,
      events: options.events,
      ...(options.memory && { memory: options.memory }),
      connectTaskExecutor:
        options.connectTaskExecutor ?? ((address) => createClient(TaskExecutorMethods, address)),
    });
    this.server = new RpcServer({ host: options.rpcHost, port: options.rpcPort, logger: options.logger });
    this.server.addService(DispatcherMethods, this.core.dispatcher);
    this.server.addService(ResourceManagerMethods, this.core.resourceManager);
  }

  /**
   * Serves Dispatcher and ResourceManager on one RPC server, connects the backend, follows leader
   * retrieval and starts campaigning. Resolves with the bound "host:port". Once only.
   */
  async start(): Promise<string> {
    const address = advertisedAddress(await this.server.start(), this.options.advertisedHost);
    this.boundAddress = address;
    await this.core.start(address);
    return address;
  }

  /** The bound "host:port" (after start()). */
  get address(): string {
    if (this.boundAddress === undefined) throw new Error(`jobmanager ${this.options.name} is not started`);
    return this.boundAddress;
  }

  /**
   * Graceful: resigns first (a standby takes over at once), drains (job masters stop, no new commands),
   * stops the RPC server (grace, then force), closes the backend. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        await this.core.resign();
      } finally {
        await this.server.shutdown();
        await this.core.close();
      }
    })();
    return this.closing;
  }
}
