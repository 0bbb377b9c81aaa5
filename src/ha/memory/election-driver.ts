// Leader election and retrieval on the in-memory coordinator, with the same shape as the etcd driver: a
// session with a TTL kept alive every TTL/3, a campaign key per session whose create revision is the epoch,
// the lowest create revision leads, and the zombie guard's deadline from the last acknowledged keepalive.
import { monotonicNow } from "../../common/clock.ts";
import { BackendUnavailableError, StaleFenceError } from "../../common/errors.ts";
import type { LeaderElectionDriver, LeaderElectionListener } from "../election-driver.ts";
import { decodeLeaderInfo, encodeLeaderInfo } from "../leader-info.ts";
import { GuardedLeaderSession, type LeaderSession } from "../leader-session.ts";
import type { LeaderRetrievalDriver, LeaderRetrievalListener } from "../retrieval-driver.ts";
import type { MemoryCoordinator } from "./coordinator.ts";

export interface MemoryLink {
  readonly coordinator: MemoryCoordinator;
  readonly ttlMs: number;
  readonly safetyMarginMs: number;
  /** Throws BackendUnavailableError while the client is partitioned. */
  reachable(): void;
  isReachable(): boolean;
}

export class MemoryElectionDriver implements LeaderElectionDriver {
  private listener: LeaderElectionListener | undefined;
  private sessionId: number | undefined;
  private campaignKey: string | undefined;
  private epoch = 0n;
  /** Send time of the newest acknowledged keepalive (or of the session's opening): the coordinator cannot
   * expire the session before this + TTL. */
  private provenAt = 0;
  private campaignWatch: (() => void) | undefined;
  private predecessorWatch: (() => void) | undefined;
  private leader: GuardedLeaderSession | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private unwatch: Array<() => void> = [];
  private closed = false;

  constructor(
    private readonly link: MemoryLink,
    private readonly electionRoot: string,
    private readonly leaderKey: string,
  ) {}

  async start(listener: LeaderElectionListener): Promise<void> {
    this.link.reachable();
    this.listener = listener;
    this.unwatch.push(
      this.link.coordinator.watch(this.leaderKey, () => {
        if (this.link.isReachable()) this.reportLeaderInfo();
      }),
    );
    this.keepalive = setInterval(() => this.tick(), Math.max(10, this.link.ttlMs / 3));
    this.campaign();
  }

  async publishLeaderInformation(
    session: LeaderSession,
    info: { name: string; address: string },
  ): Promise<void> {
    session.assertLeader();
    this.link.reachable();
    const value = encodeLeaderInfo(session, info);
    const ok = this.link.coordinator.txn(
      [{ key: session.electionKey, target: "create", equals: session.epoch }],
      [
        {
          type: "put",
          key: this.leaderKey,
          value,
          ...(this.sessionId !== undefined && { session: this.sessionId }),
        },
      ],
    );
    if (!ok) throw new StaleFenceError(session.epoch, `publish leader information at ${this.leaderKey}`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepalive);
    for (const u of [...this.unwatch, this.campaignWatch, this.predecessorWatch]) u?.();
    this.unwatch = [];
    this.revoke("closed: resigned");
    if (this.sessionId !== undefined && this.link.isReachable())
      this.link.coordinator.expireSession(this.sessionId);
    this.sessionId = undefined;
  }

  /** Test hook: the coordinator expires this contender's session, as after a long partition. */
  expireSession(): void {
    if (this.sessionId !== undefined) this.link.coordinator.expireSession(this.sessionId);
  }

  private tick(): void {
    if (this.closed || !this.link.isReachable()) return;
    const sentAt = monotonicNow();
    if (this.sessionId !== undefined && this.link.coordinator.keepAlive(this.sessionId)) {
      this.provenAt = sentAt;
      this.leader?.extendDeadline(sentAt + this.link.ttlMs - this.link.safetyMarginMs);
      // A predecessor may have gone while we were cut off and its watch event was lost: check again.
      if (!this.leader) this.check();
      return;
    }
    // The session is gone (expired while we could not renew it): give up leadership, campaign anew.
    this.revoke("session expired");
    this.campaign();
  }

  private campaign(): void {
    const c = this.link.coordinator;
    const sentAt = monotonicNow();
    this.sessionId = c.openSession(this.link.ttlMs);
    this.campaignKey = `${this.electionRoot}/campaign/${this.sessionId.toString().padStart(12, "0")}`;
    c.txn([], [{ type: "put", key: this.campaignKey, value: new Uint8Array(), session: this.sessionId }]);
    this.epoch = c.get(this.campaignKey)!.createRevision;
    this.campaignWatch?.();
    this.campaignWatch = c.watch(
      this.campaignKey,
      (e) => e.type === "delete" && this.revoke("campaign key deleted"),
    );
    this.provenAt = sentAt;
    this.check();
  }

  private check(): void {
    const c = this.link.coordinator;
    const epoch = this.epoch;
    this.predecessorWatch?.();
    this.predecessorWatch = undefined;
    const campaigns = c
      .range(`${this.electionRoot}/campaign/`)
      .sort((a, b) => (a.createRevision < b.createRevision ? -1 : 1));
    const mine = campaigns.findIndex((e) => e.key === this.campaignKey);
    if (mine < 0) return;
    if (mine === 0) {
      this.grant(epoch, this.provenAt);
      return;
    }
    const predecessor = campaigns[mine - 1]!.key;
    this.predecessorWatch = c.watch(predecessor, (e) => {
      if (e.type !== "delete" || this.closed || !this.link.isReachable()) return;
      if (c.get(this.campaignKey!)?.createRevision === epoch) this.check();
    });
  }

  private grant(epoch: bigint, sentAt: number): void {
    const session = new GuardedLeaderSession(
      epoch,
      this.campaignKey!,
      sentAt + this.link.ttlMs - this.link.safetyMarginMs,
      () => this.revoke("zombie guard deadline passed"),
    );
    this.leader = session;
    this.listener?.onGrantLeadership(session);
    this.reportLeaderInfo();
  }

  private revoke(reason: string): void {
    const session = this.leader;
    if (!session) return;
    this.leader = undefined;
    session.revoke(reason);
    this.listener?.onRevokeLeadership(session, reason);
  }

  private reportLeaderInfo(): void {
    const e = this.link.coordinator.get(this.leaderKey);
    try {
      this.listener?.onLeaderInformationChange(e ? decodeLeaderInfo(this.leaderKey, e.value) : undefined);
    } catch (err: unknown) {
      this.listener?.onError(err as Error);
    }
  }
}

export class MemoryRetrievalDriver implements LeaderRetrievalDriver {
  private unwatch: (() => void) | undefined;
  private listener: LeaderRetrievalListener | undefined;

  constructor(
    private readonly link: MemoryLink,
    private readonly leaderKey: string,
  ) {}

  async start(listener: LeaderRetrievalListener): Promise<void> {
    this.link.reachable();
    this.listener = listener;
    this.unwatch = this.link.coordinator.watch(this.leaderKey, () => this.read());
    this.read();
  }

  async close(): Promise<void> {
    this.unwatch?.();
    this.unwatch = undefined;
  }

  /** Re-reads after a partition heals, as a real driver does after a reconnect. */
  resync(): void {
    if (this.unwatch) this.read();
  }

  private read(): void {
    if (!this.link.isReachable()) {
      this.listener?.onError(new BackendUnavailableError("memory backend partitioned"));
      return;
    }
    const e = this.link.coordinator.get(this.leaderKey);
    try {
      this.listener?.onLeaderInformation(e ? decodeLeaderInfo(this.leaderKey, e.value) : undefined);
    } catch (err: unknown) {
      this.listener?.onError(err as Error);
    }
  }
}
