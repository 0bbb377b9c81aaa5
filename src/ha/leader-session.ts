// The leader session and its zombie guard (DESIGN.md §2).
//
// A session is valid while (a) the driver has not revoked it and (b) the local monotonic deadline has not
// passed. The driver moves the deadline forward on every acknowledged keepalive / ping: deadline = send time
// of that request + TTL (or negotiated session timeout) - safety margin. The coordinator cannot expire the
// lease / session before then, so while assertLeader() passes no other process can have become leader.
// The check is synchronous: a process resumed after SIGSTOP or a long GC pause fails it before it does
// anything, even before its timers or the client library have run.
import { randomUUID } from "node:crypto";
import { monotonicNow } from "../common/clock.ts";
import { LeadershipLostError } from "../common/errors.ts";

export interface LeaderSession {
  /** Monotonic across all leaders of one election (etcd create_revision / ZooKeeper czxid). Orders sessions. */
  readonly epoch: bigint;
  /** Random id; identifies the session, never orders it. */
  readonly id: string;
  /** Backend path of the campaign key / latch node that fenced writes check. */
  readonly electionKey: string;
  /** Aborted when the session ends, for any reason; its reason is a LeadershipLostError. */
  readonly signal: AbortSignal;
  /**
   * Where the grant stands in the store's own order, when the backend tells (etcd: the revision at which no
   * older campaign key existed); a write fenced by an older epoch cannot commit after it.
   */
  readonly grantRevision?: bigint | undefined;
  /** True while the session is valid (not revoked, deadline not passed). Never throws. */
  isValid(): boolean;
  /** Throws LeadershipLostError unless the session is valid. Call it before every leader action. */
  assertLeader(): void;
}

let zombieGuardDisabled = false;
/** setTimeout fires at once for longer delays. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * TEST ONLY: sessions ignore their deadline from now on, so that tests can show that the backend's fencing
 * alone refuses a resumed zombie's writes. Never call this outside tests and chaos drills.
 */
export function disableZombieGuardForTests(): void {
  zombieGuardDisabled = true;
}

/** The driver's side of a session: extend the deadline, revoke. Contenders only see LeaderSession. */
export class GuardedLeaderSession implements LeaderSession {
  readonly id = randomUUID();
  private deadline: number;
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param deadline monotonic ms until which the session is proven alive (see monotonicNow()).
   * @param onDeadlinePassed called once, synchronously, when a check finds the deadline passed; the driver
   *   turns it into a revoke event.
   */
  constructor(
    readonly epoch: bigint,
    readonly electionKey: string,
    deadline: number,
    private readonly onDeadlinePassed: (session: GuardedLeaderSession) => void,
    readonly grantRevision?: bigint,
  ) {
    this.deadline = deadline;
    this.armTimer();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Monotonic ms of the current deadline. */
  get deadlineAt(): number {
    return this.deadline;
  }

  /** Moves the deadline forward (never backward). No effect once revoked. */
  extendDeadline(deadline: number): void {
    if (deadline > this.deadline) this.deadline = deadline;
  }

  /** Ends the session. Idempotent; the first reason wins. */
  revoke(reason: string): void {
    if (this.controller.signal.aborted) return;
    clearTimeout(this.timer);
    this.controller.abort(new LeadershipLostError(this.epoch, reason));
  }

  isValid(): boolean {
    if (this.controller.signal.aborted) return false;
    if (monotonicNow() < this.deadline || zombieGuardDisabled) return true;
    this.expire();
    return false;
  }

  assertLeader(): void {
    if (!this.isValid()) throw this.controller.signal.reason as LeadershipLostError;
  }

  /**
   * A timer at the deadline turns a passed deadline into a revoke even when no action checks it; while
   * keepalives move the deadline it re-arms itself. (A paused process runs its actions' checks and this timer
   * in whatever order; both demote it.)
   */
  private armTimer(): void {
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, this.deadline - monotonicNow()) + 1);
    this.timer = setTimeout(() => {
      if (this.isValid()) this.armTimer();
    }, delay);
    this.timer.unref();
  }

  private expire(): void {
    const late = Math.round(monotonicNow() - this.deadline);
    this.revoke(
      `zombie guard: no acknowledged keepalive proves the session alive (deadline passed ${late} ms ago)`,
    );
    this.onDeadlinePassed(this);
  }
}
