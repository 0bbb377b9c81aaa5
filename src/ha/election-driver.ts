// A leader-election driver campaigns on one backend and knows nothing about jobs (DESIGN.md §2, FLIP-285).
// One driver instance = one contender in one election. Threading: Node's single thread; the driver may call
// the listener from any callback; the generic LeaderElectionService serialises the events.
import type { LeaderSession } from "./leader-session.ts";

/** What a leader publishes about itself, and what retrieval reports. */
export interface LeaderInfo {
  readonly name: string;
  readonly address: string;
  readonly epoch: bigint;
  readonly sessionId: string;
}

export interface LeaderElectionListener {
  /** This contender became leader. Never called twice without a revoke for the same driver in between. */
  onGrantLeadership(session: LeaderSession): void;
  /** The session ended (deadline passed, key deleted, session expired, close). `session.signal` is aborted. */
  onRevokeLeadership(session: LeaderSession, reason: string): void;
  /** The published leader information changed or vanished (undefined); lets the service correct it. */
  onLeaderInformationChange(info: LeaderInfo | undefined): void;
  /** A problem that is not (yet) a revoke: lost connection, failed watch. Informational. */
  onError(error: Error): void;
}

export interface LeaderElectionDriver {
  /**
   * Starts campaigning; resolves once the first campaign is registered with the backend (not when elected).
   * Rejects with BackendUnavailableError when the backend cannot be reached within the connect timeout.
   * After a session loss the driver campaigns again on its own whenever the backend is reachable.
   */
  start(listener: LeaderElectionListener): Promise<void>;
  /**
   * Writes the leader information, fenced on `session` (a deposed session's write never lands: StaleFenceError
   * or LeadershipLostError). The record lives only as long as the session (etcd lease / ephemeral znode).
   */
  publishLeaderInformation(session: LeaderSession, info: { name: string; address: string }): Promise<void>;
  /**
   * Resigns at once: deletes the leader information and the campaign key / latch node so that a standby takes
   * over without waiting out the TTL, revokes a held session, stops campaigning. Idempotent.
   */
  close(): Promise<void>;
}
