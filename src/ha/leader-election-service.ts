// The generic leader-election service (DESIGN.md §2, Flink's DefaultLeaderElectionService after FLIP-285).
// It sits between one backend driver and one contender and guarantees, whatever order the driver's callbacks
// arrive in:
//   - events reach the contender one at a time (one serial queue);
//   - grant and revoke alternate, and a revoke always names the session that was granted;
//   - the leader information is published only after the contender confirmed the session, and only while
//     that session is still current; information that differs from what we published is corrected.
import { isLeadershipLoss, LeadershipLostError, LifecycleError } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import { SerialQueue } from "../common/serial-queue.ts";
import type { LeaderElectionDriver, LeaderInfo } from "./election-driver.ts";
import type { LeaderSession } from "./leader-session.ts";

export interface LeaderContender {
  /** This process leads with `session`. Recover, then call confirmLeadership(session, address). */
  grantLeadership(session: LeaderSession): void | Promise<void>;
  /** `session` is over; stop every leader action at once. Always follows the grant of the same session. */
  revokeLeadership(session: LeaderSession, reason: string): void | Promise<void>;
  /** Something went wrong that is not a revoke (the driver keeps trying). */
  handleError(error: Error): void;
}

type State = "created" | "started" | "closed";

const PUBLISH_RETRY_MIN_MS = 50;
const PUBLISH_RETRY_MAX_MS = 2_000;

export class LeaderElectionService {
  private state: State = "created";
  private readonly queue = new SerialQueue();
  private contender: LeaderContender | undefined;
  private current: LeaderSession | undefined;
  private confirmed: { session: LeaderSession; address: string } | undefined;
  private publishRetry: NodeJS.Timeout | undefined;
  private publishRetryMs = PUBLISH_RETRY_MIN_MS;

  constructor(
    private readonly driver: LeaderElectionDriver,
    private readonly name: string,
    private readonly logger: Logger,
  ) {}

  /** Starts campaigning for `contender`. Once only. Rejects when the backend is unreachable. */
  async start(contender: LeaderContender): Promise<void> {
    if (this.state !== "created")
      throw new LifecycleError(`leader election for ${this.name} was already started`);
    this.state = "started";
    this.contender = contender;
    await this.driver.start({
      // A grant that arrives once close() has begun is dropped: the contender already heard its last revoke.
      onGrantLeadership: (session) => {
        if (this.state !== "closed") this.enqueue("grant", () => this.onGrant(session));
      },
      onRevokeLeadership: (session, reason) => this.enqueue("revoke", () => this.onRevoke(session, reason)),
      onLeaderInformationChange: (info) =>
        this.enqueue("leader information", () => this.onLeaderInformation(info)),
      onError: (error) => this.enqueue("error report", () => this.contender?.handleError(error)),
    });
  }

  /**
   * The contender is ready to serve as leader of `session` at `address`: publish it. Resolves true once it is
   * published; false when the session is no longer current, or when the write failed — then the service keeps
   * retrying (with back-off) for as long as the session lasts, and reports each failure to handleError.
   */
  confirmLeadership(session: LeaderSession, address: string): Promise<boolean> {
    // Not queued: a contender may await this inside grantLeadership, which runs on the queue. The write is
    // fenced on the session, so it cannot land once the session is gone, whatever the timing.
    if (this.current !== session || !session.isValid()) return Promise.resolve(false);
    this.confirmed = { session, address };
    return this.publish(session, address);
  }

  /** True while `session` is the current, valid session of this contender. */
  hasLeadership(session: LeaderSession): boolean {
    return this.current === session && session.isValid();
  }

  /**
   * Runs `action` only if `session` is still the current leader session (checked synchronously first, the
   * zombie guard included); otherwise rejects with LeadershipLostError and runs nothing. The action gets the
   * session's signal, which aborts when leadership ends.
   */
  async runIfLeader<T>(session: LeaderSession, action: (signal: AbortSignal) => T | Promise<T>): Promise<T> {
    session.assertLeader();
    if (this.current !== session)
      throw new LeadershipLostError(session.epoch, "no longer the current session");
    return action(session.signal);
  }

  /**
   * Resigns: the contender hears its revoke first (it stops acting), then the driver deletes its campaign key
   * so that a standby takes over at once. Idempotent; never rejects because of the contender.
   */
  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    clearTimeout(this.publishRetry);
    try {
      await this.queue.run(() =>
        this.guarded("revoke on close", async () => {
          if (this.current) await this.onRevoke(this.current, "closed: resigned");
        }),
      );
    } finally {
      await this.driver.close();
      await this.queue.drained();
    }
  }

  /** Runs an event on the queue; what it throws is logged and handed to the contender, never lost. */
  private enqueue(what: string, task: () => unknown): void {
    void this.queue.run(() => this.guarded(what, task));
  }

  private async guarded(what: string, task: () => unknown): Promise<void> {
    try {
      await task();
    } catch (e: unknown) {
      const error = e instanceof Error ? e : new Error(String(e));
      this.logger.error(`leader election: ${what} failed`, { name: this.name, error: error.message });
      if (what === "error report") return;
      try {
        this.contender?.handleError(error);
      } catch (again: unknown) {
        this.logger.error("leader election: the contender's handleError threw", {
          name: this.name,
          error: String(again),
        });
      }
    }
  }

  private async onGrant(session: LeaderSession): Promise<void> {
    if (this.current) await this.onRevoke(this.current, "superseded by a new grant");
    if (!session.isValid()) return;
    this.current = session;
    this.logger.info("leadership granted", { name: this.name, epoch: session.epoch });
    await this.contender?.grantLeadership(session);
  }

  private async onRevoke(session: LeaderSession, reason: string): Promise<void> {
    if (this.current !== session) return;
    this.current = undefined;
    this.confirmed = undefined;
    clearTimeout(this.publishRetry);
    this.logger.info("leadership revoked", { name: this.name, epoch: session.epoch, reason });
    await this.contender?.revokeLeadership(session, reason);
  }

  private async onLeaderInformation(info: LeaderInfo | undefined): Promise<void> {
    const mine = this.confirmed;
    if (!mine || this.current !== mine.session || !mine.session.isValid()) return;
    if (
      info &&
      info.sessionId === mine.session.id &&
      info.address === mine.address &&
      info.epoch === mine.session.epoch
    ) {
      return;
    }
    this.logger.info("published leader information is missing or differs from ours; publishing it again", {
      name: this.name,
      epoch: mine.session.epoch,
      found: info ? `${info.name}@${info.address} epoch ${info.epoch}` : "none",
    });
    await this.publish(mine.session, mine.address);
  }

  private async publish(session: LeaderSession, address: string): Promise<boolean> {
    clearTimeout(this.publishRetry);
    try {
      await this.driver.publishLeaderInformation(session, { name: this.name, address });
      this.publishRetryMs = PUBLISH_RETRY_MIN_MS;
      return true;
    } catch (e: unknown) {
      // A lost session is followed by its revoke; anything else is reported and retried while it lasts.
      if (isLeadershipLoss(e)) return false;
      this.contender?.handleError(e instanceof Error ? e : new Error(String(e)));
      const delay = this.publishRetryMs;
      this.publishRetryMs = Math.min(delay * 2, PUBLISH_RETRY_MAX_MS);
      this.publishRetry = setTimeout(
        () =>
          this.enqueue("publish retry", async () => {
            const mine = this.confirmed;
            if (mine?.session === session && this.current === session && session.isValid()) {
              await this.publish(session, mine.address);
            }
          }),
        delay,
      );
      return false;
    }
  }
}
