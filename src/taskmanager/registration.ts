// A TaskManager's registration with one JobManager leader: what the leader told it, and the error for a
// command that does not come from that registration.
import { VigilError } from "../common/errors.ts";

/** Defaults when a leader leaves the heartbeat settings at 0 (design: 500 ms interval, 2 s timeout). */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 500;
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 2_000;

export interface Registration {
  /** The leader's epoch; commands of this epoch with this registration id are accepted. */
  readonly epoch: bigint;
  readonly registrationId: string;
  /** The leader's ResourceManager address. */
  readonly leader: string;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
}

/**
 * A command carried an epoch that is not stale but does not match the TaskManager's current registration:
 * the TaskManager is not (yet, or any more) registered with that leader, or the leader used a superseded
 * registration id. Code STALE_FENCE: the registration id is the fencing token between one leader and one
 * TaskManager. Nothing was done; the leader learns the TaskManager's state from its next registration.
 */
export class RegistrationFenceError extends VigilError {
  constructor(
    readonly epoch: bigint,
    readonly registrationId: string,
    what: string,
    detail: string,
  ) {
    super("STALE_FENCE", `${what}: refused: ${detail}`);
  }
}
