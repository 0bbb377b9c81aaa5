// The ZooKeeper HA backend: one client/session per backend (connection.ts), drivers and the store on top.
import type { Logger } from "../../common/logger.ts";
import type { HaConfig } from "../../config/ha-config.ts";
import type { HaBackend } from "../backend.ts";
import { clusterRoot, electionRoot, leaderKey } from "../keys.ts";
import { ZooKeeperConnection } from "./connection.ts";
import { ZooKeeperElectionDriver } from "./election-driver.ts";
import { ZooKeeperRetrievalDriver } from "./retrieval-driver.ts";
import { ZooKeeperStateHandleStore } from "./state-handle-store.ts";

export { ZOOKEEPER_MAX_VALUE_BYTES } from "./state-handle-store.ts";

export class ZooKeeperHaBackend implements HaBackend {
  readonly kind = "zookeeper" as const;
  readonly store: ZooKeeperStateHandleStore;
  private readonly conn: ZooKeeperConnection;
  private readonly elections = new Set<ZooKeeperElectionDriver>();
  private readonly retrievals = new Set<ZooKeeperRetrievalDriver>();
  private closed = false;

  constructor(
    private readonly config: HaConfig,
    private readonly logger: Logger,
  ) {
    this.conn = new ZooKeeperConnection(config, logger.child({ backend: "zookeeper" }));
    this.store = new ZooKeeperStateHandleStore(this.conn, clusterRoot(config.clusterId));
  }

  connect(): Promise<void> {
    return this.conn.connect();
  }

  /** The current session's id (hex), for logs and tests. */
  get sessionId(): string | undefined {
    return this.conn.sessionId;
  }

  createElectionDriver(election: string): ZooKeeperElectionDriver {
    const d = new ZooKeeperElectionDriver(
      this.conn,
      electionRoot(this.config.clusterId, election),
      leaderKey(this.config.clusterId, election),
      this.logger.child({ election }),
    );
    this.elections.add(d);
    return d;
  }

  createRetrievalDriver(election: string): ZooKeeperRetrievalDriver {
    const d = new ZooKeeperRetrievalDriver(this.conn, leaderKey(this.config.clusterId, election));
    this.retrievals.add(d);
    return d;
  }

  /**
   * Revokes held leader sessions and stops the drivers without resigning explicitly, then closes the client,
   * which ends the session (and removes its ephemeral latch and leader nodes) at once when the server answers.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const d of this.elections) d.stop("closed: backend closed");
    await Promise.all([...this.retrievals].map((d) => d.close()));
    await this.conn.close();
  }
}

export function createZooKeeperBackend(config: HaConfig, logger: Logger): HaBackend {
  return new ZooKeeperHaBackend(config, logger);
}
