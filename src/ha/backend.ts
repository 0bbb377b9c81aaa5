// One HA backend connection: everything else in vigil reaches etcd / ZooKeeper / memory through this.
import type { LeaderElectionDriver } from "./election-driver.ts";
import type { LeaderRetrievalDriver } from "./retrieval-driver.ts";
import type { StateHandleStore } from "./state-handle-store.ts";

export interface HaBackend {
  readonly kind: "etcd" | "zookeeper" | "memory";
  /**
   * Connects (and for ZooKeeper, opens a session). Rejects with BackendUnavailableError naming the endpoints
   * when nothing answers within the connect timeout. Call once, before anything else.
   */
  connect(): Promise<void>;
  /** A driver for one contender in `election`. Each call makes a new, unstarted driver. */
  createElectionDriver(election: string): LeaderElectionDriver;
  /** A driver following the leader of `election`. Each call makes a new, unstarted driver. */
  createRetrievalDriver(election: string): LeaderRetrievalDriver;
  /** The state-handle store of this cluster's namespace (shared; no lifecycle of its own). */
  readonly store: StateHandleStore;
  /**
   * Closes every driver it made (a held leadership ends: etcd revokes the lease, ZooKeeper closes the session,
   * both delete the campaign key / latch at once) and then the client. Idempotent.
   */
  close(): Promise<void>;
}
