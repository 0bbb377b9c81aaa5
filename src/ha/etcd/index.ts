// The etcd HA backend: one etcd3 client shared by the election and retrieval drivers and the fenced store.
import type { Logger } from "../../common/logger.ts";
import type { HaConfig } from "../../config/ha-config.ts";
import type { HaBackend } from "../backend.ts";
import { clusterRoot, electionRoot, leaderKey } from "../keys.ts";
import {
  closeEtcdContext,
  createEtcdContext,
  deadline,
  type EtcdContext,
  readWithRetry,
  unavailable,
} from "./client.ts";
import { EtcdElectionDriver } from "./election-driver.ts";
import { EtcdRetrievalDriver } from "./retrieval-driver.ts";
import { EtcdStateHandleStore } from "./state-handle-store.ts";

export { ETCD_MAX_VALUE_BYTES } from "./state-handle-store.ts";

export class EtcdHaBackend implements HaBackend {
  readonly kind = "etcd" as const;
  readonly store: EtcdStateHandleStore;
  private readonly ctx: EtcdContext;
  private readonly drivers = new Set<{ close(): Promise<void> }>();
  private closed = false;

  constructor(
    private readonly config: HaConfig,
    logger: Logger,
  ) {
    // No I/O here: etcd3 connects lazily on the first call.
    this.ctx = createEtcdContext(config, logger.child({ backend: "etcd" }));
    this.store = new EtcdStateHandleStore(this.ctx, clusterRoot(config.clusterId));
  }

  async connect(): Promise<void> {
    const root = clusterRoot(this.config.clusterId);
    try {
      await readWithRetry(
        this.ctx,
        "connect",
        (ms) => this.ctx.client.kv.range({ key: Buffer.from(root), count_only: true }, deadline(ms)),
        this.config.connectTimeoutMs,
      );
    } catch (e: unknown) {
      throw unavailable(
        this.ctx,
        `connect (waited ${this.config.connectTimeoutMs} ms)`,
        e instanceof Error && e.cause !== undefined ? e.cause : e,
      );
    }
  }

  createElectionDriver(election: string): EtcdElectionDriver {
    const d = new EtcdElectionDriver(
      this.ctx,
      electionRoot(this.config.clusterId, election),
      leaderKey(this.config.clusterId, election),
    );
    this.drivers.add(d);
    return d;
  }

  createRetrievalDriver(election: string): EtcdRetrievalDriver {
    const d = new EtcdRetrievalDriver(this.ctx, leaderKey(this.config.clusterId, election));
    this.drivers.add(d);
    return d;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.drivers].map((d) => d.close()));
    this.drivers.clear();
    closeEtcdContext(this.ctx);
  }
}

export function createEtcdBackend(config: HaConfig, logger: Logger): HaBackend {
  return new EtcdHaBackend(config, logger);
}
