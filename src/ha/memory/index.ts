// The in-memory HA backend: several MemoryHaBackend clients on one MemoryCoordinator behave like several
// processes on one etcd. Test hooks: partition() / heal() cut one client off, expireSessions() ends its
// sessions at once.
import { BackendUnavailableError } from "../../common/errors.ts";
import type { HaConfig } from "../../config/ha-config.ts";
import type { HaBackend } from "../backend.ts";
import { clusterRoot, electionRoot, leaderKey } from "../keys.ts";
import type { MemoryCoordinator } from "./coordinator.ts";
import { MemoryElectionDriver, type MemoryLink, MemoryRetrievalDriver } from "./election-driver.ts";
import { MemoryStateHandleStore } from "./store.ts";

export { MemoryCoordinator } from "./coordinator.ts";

export class MemoryHaBackend implements HaBackend {
  readonly kind = "memory" as const;
  readonly store: MemoryStateHandleStore;
  private partitioned = false;
  private closed = false;
  private readonly link: MemoryLink;
  private readonly elections = new Set<MemoryElectionDriver>();
  private readonly retrievals = new Set<MemoryRetrievalDriver>();

  constructor(
    readonly coordinator: MemoryCoordinator,
    private readonly config: Pick<HaConfig, "clusterId" | "ttlMs" | "safetyMarginMs">,
  ) {
    const reachable = (): void => {
      if (this.closed) throw new BackendUnavailableError("memory backend client is closed");
      if (this.partitioned) throw new BackendUnavailableError("memory backend unreachable (partitioned)");
    };
    this.link = {
      coordinator,
      ttlMs: config.ttlMs,
      safetyMarginMs: config.safetyMarginMs,
      reachable,
      isReachable: () => !this.partitioned && !this.closed,
    };
    this.store = new MemoryStateHandleStore(coordinator, clusterRoot(config.clusterId), reachable);
  }

  async connect(): Promise<void> {
    this.link.reachable();
  }

  createElectionDriver(election: string): MemoryElectionDriver {
    const d = new MemoryElectionDriver(
      this.link,
      electionRoot(this.config.clusterId, election),
      leaderKey(this.config.clusterId, election),
    );
    this.elections.add(d);
    return d;
  }

  createRetrievalDriver(election: string): MemoryRetrievalDriver {
    const d = new MemoryRetrievalDriver(this.link, leaderKey(this.config.clusterId, election));
    this.retrievals.add(d);
    return d;
  }

  /** Cuts this client off: requests fail, keepalives stop, watches go quiet. */
  partition(): void {
    this.partitioned = true;
  }

  /** Reconnects; retrieval re-reads, as real drivers do after a reconnect. */
  heal(): void {
    this.partitioned = false;
    for (const r of this.retrievals) r.resync();
  }

  /** Ends every session of this client's election drivers at once. */
  expireSessions(): void {
    for (const d of this.elections) d.expireSession();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.elections].map((d) => d.close()));
    await Promise.all([...this.retrievals].map((d) => d.close()));
    this.closed = true;
  }
}
