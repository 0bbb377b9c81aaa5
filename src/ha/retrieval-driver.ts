// A leader-retrieval driver follows the published leader information of one election.
import type { LeaderInfo } from "./election-driver.ts";

export interface LeaderRetrievalListener {
  /** The current leader information, or undefined for "no leader". May repeat a value; the service dedups. */
  onLeaderInformation(info: LeaderInfo | undefined): void;
  /** A problem while following (watch lost, connection lost); the driver keeps trying and re-reads. */
  onError(error: Error): void;
}

export interface LeaderRetrievalDriver {
  /**
   * Reads the current leader information, reports it, then follows changes; re-reads after reconnects and
   * after etcd compaction so that no change is missed for good. Rejects with BackendUnavailableError when the
   * backend cannot be reached within the connect timeout.
   */
  start(listener: LeaderRetrievalListener): Promise<void>;
  /** Stops following. Idempotent. */
  close(): Promise<void>;
}
