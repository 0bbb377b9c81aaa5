// Leader election on etcd, built like Go's client/v3/concurrency (DESIGN.md §2, §7) on leases, transactions and
// watches; etcd3's Election class is not used (it emits `elected` for dead campaigns and floods on errors).
//
// One campaign = one lease + one campaign key `<election>/campaign/<lease-hex>` created only if absent; its
// create revision is the epoch. The campaign with the lowest create revision leads; the others watch only
// their predecessor. Every campaign has a generation: callbacks of an ended campaign are ignored. A campaign
// ends when its lease is lost, its key is deleted, the zombie guard's deadline passes, or on close(); the
// driver then campaigns again with a new lease as soon as etcd answers.
// The leader's immediate successor revokes the leader's lease once etcd proves it expired, instead of waiting
// up to 0.5 s more for etcd 3.4's lessor (predecessor-reaper.ts).
import { monotonicNow, sleep } from "../../common/clock.ts";
import { describeCause, LeadershipLostError, LifecycleError, StaleFenceError } from "../../common/errors.ts";
import type { LeaderElectionDriver, LeaderElectionListener } from "../election-driver.ts";
import { encodeLeaderInfo } from "../leader-info.ts";
import { GuardedLeaderSession, type LeaderSession } from "../leader-session.ts";
import { type Campaign, registerCampaign, Superseded } from "./campaign.ts";
import { CampaignKeyWatch } from "./campaign-key-watch.ts";
import { deadline, type EtcdContext, unavailable, writeOnce } from "./client.ts";
import { LeaderFollower } from "./leader-follower.ts";
import { PredecessorWatch } from "./predecessor-watch.ts";

export class EtcdElectionDriver implements LeaderElectionDriver {
  private listener: LeaderElectionListener | undefined;
  private state: "latent" | "started" | "closed" = "latent";
  private gen = 0;
  private campaign: Campaign | undefined;
  private session: GuardedLeaderSession | undefined;
  private guardTimer: NodeJS.Timeout | undefined;
  private follower: LeaderFollower | undefined;
  private readonly campaignPrefix: string;

  constructor(
    private readonly ctx: EtcdContext,
    electionRoot: string,
    private readonly leaderKey: string,
  ) {
    this.campaignPrefix = `${electionRoot}/campaign/`;
  }

  async start(listener: LeaderElectionListener): Promise<void> {
    if (this.state !== "latent")
      throw new LifecycleError(`election ${this.campaignPrefix}: start() called twice`);
    this.state = "started";
    this.listener = listener;
    this.follower = new LeaderFollower(
      this.ctx,
      this.leaderKey,
      (info) => this.listener?.onLeaderInformationChange(info),
      (error) => this.listener?.onError(error),
    );
    const until = monotonicNow() + this.ctx.config.connectTimeoutMs;
    const gen = this.gen;
    try {
      let last: unknown;
      while (monotonicNow() < until && gen === this.gen) {
        try {
          this.begin(await this.register(gen));
          last = undefined;
          break;
        } catch (e: unknown) {
          if (e instanceof Superseded) return;
          last = e;
          await sleep(50);
        }
      }
      if (gen !== this.gen) return; // closed while starting
      if (last !== undefined || !this.campaign) {
        throw unavailable(this.ctx, `campaign in ${this.campaignPrefix}`, last);
      }
      await this.follower.start();
    } catch (e: unknown) {
      await this.close();
      throw e;
    }
  }

  async publishLeaderInformation(
    session: LeaderSession,
    info: { name: string; address: string },
  ): Promise<void> {
    session.assertLeader();
    const c = this.campaign;
    if (session !== this.session || !c || c.key !== session.electionKey) {
      throw new LeadershipLostError(session.epoch, "not the current session of this election driver");
    }
    const value = encodeLeaderInfo(session, info);
    const res = await writeOnce(this.ctx, "publish leader information", this.leaderKey, (ms) =>
      this.ctx.client.kv.txn(
        {
          compare: [
            {
              key: Buffer.from(c.key),
              target: "Create",
              result: "Equal",
              create_revision: c.epoch.toString(),
            },
          ],
          success: [
            {
              request_put: { key: Buffer.from(this.leaderKey), value: Buffer.from(value), lease: c.lease.id },
            },
          ],
        },
        deadline(ms),
      ),
    );
    if (!res.succeeded)
      throw new StaleFenceError(session.epoch, `publish leader information at ${this.leaderKey}`);
  }

  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    this.gen++;
    const followerClosed = this.follower?.close();
    const c = this.campaign;
    this.campaign = undefined;
    this.revokeSession("closed: resigned");
    if (c) {
      // Revoking the lease deletes the campaign key and the leader key in one step: the successor's watch fires
      // at once instead of after the TTL.
      const revoked = c.lease.revoke(this.ctx.config.requestTimeoutMs).catch((e: unknown) =>
        this.ctx.logger.warn("etcd: could not revoke the campaign lease on close; it expires by its TTL", {
          lease: c.lease.hex,
          cause: describeCause(e),
        }),
      );
      await Promise.all([revoked, this.cancelWatches(c)]);
    }
    await followerClosed;
  }

  /** Grants a lease and creates the campaign key on it (campaign.ts). */
  private register(gen: number): Promise<Campaign> {
    return registerCampaign(this.ctx, this.campaignPrefix, gen, () => this.gen);
  }

  private begin(c: Campaign): void {
    this.campaign = c;
    this.ctx.logger.debug("etcd: campaigning", { key: c.key, epoch: c.epoch });
    const queue = new PredecessorWatch(this.ctx, this.campaignPrefix, c.key, c.epoch, {
      isCurrent: () => c === this.campaign,
      isLeading: () => this.session !== undefined,
      onHead: (revision) => this.grant(c, revision),
      onKeyDeleted: (reason) => this.endCampaign(c, reason),
      onError: (e) => this.listener?.onError(e),
    });
    c.queue = queue;
    c.lease.start({
      onRenewed: (provenUntil) => {
        if (c !== this.campaign) return;
        if (this.session) {
          this.session.extendDeadline(provenUntil - this.ctx.config.safetyMarginMs);
        } else {
          // Re-check on every renewal while waiting: covers a watch stream stuck on a frozen member.
          void queue.check();
        }
      },
      onLost: (reason) => this.endCampaign(c, reason),
      onError: (error) => c === this.campaign && this.listener?.onError(error),
    });
    c.self = new CampaignKeyWatch(
      this.ctx,
      c.key,
      c.epoch,
      (reason) => this.endCampaign(c, reason),
      (e) => c === this.campaign && this.listener?.onError(e),
    );
    c.self.start();
    void queue.check();
  }

  /** `revision`: the store revision at which no campaign key older than ours existed (the grant's place in the store's order). */
  private grant(c: Campaign, revision: bigint): void {
    const deadlineAt = c.lease.provenUntil - this.ctx.config.safetyMarginMs;
    // Not proven alive right now (keepalives failing): wait; the next acknowledged keepalive checks again.
    if (deadlineAt <= monotonicNow()) return;
    const session = new GuardedLeaderSession(
      c.epoch,
      c.key,
      deadlineAt,
      (s) => {
        const reason = (s.signal.reason as Error).message;
        queueMicrotask(() => this.endCampaign(c, reason));
      },
      revision,
    );
    this.session = session;
    c.queue?.stop();
    this.armGuard();
    this.ctx.logger.info("etcd: leadership granted", { epoch: c.epoch, key: c.key });
    this.listener?.onGrantLeadership(session);
  }

  /** Fires at the session's deadline; re-arms while keepalives keep moving it. */
  private armGuard(): void {
    clearTimeout(this.guardTimer);
    const session = this.session;
    if (!session) return;
    this.guardTimer = setTimeout(
      () => {
        if (session === this.session && session.isValid()) this.armGuard();
      },
      Math.max(0, session.deadlineAt - monotonicNow()) + 1,
    );
  }

  private revokeSession(reason: string): void {
    const session = this.session;
    if (!session) return;
    this.session = undefined;
    clearTimeout(this.guardTimer);
    session.revoke(reason);
    this.ctx.logger.info("etcd: leadership revoked", { epoch: session.epoch, reason });
    this.listener?.onRevokeLeadership(session, reason);
  }

  /** Ends campaign `c` (if still current), gives its lease back, and campaigns again. */
  private endCampaign(c: Campaign, reason: string): void {
    if (c !== this.campaign) return;
    this.gen++;
    this.campaign = undefined;
    this.revokeSession(reason);
    c.lease.stop();
    void c.lease.revoke(this.ctx.config.requestTimeoutMs).catch(() => undefined);
    void this.cancelWatches(c);
    if (this.state === "started") void this.recampaign(this.gen);
  }

  private async recampaign(gen: number): Promise<void> {
    let delay = 50;
    while (this.state === "started" && gen === this.gen) {
      try {
        this.begin(await this.register(gen));
        return;
      } catch (e: unknown) {
        if (e instanceof Superseded) return;
        this.listener?.onError(e instanceof Error ? e : new Error(describeCause(e)));
        await sleep(delay + Math.random() * delay);
        delay = Math.min(delay * 2, 500);
      }
    }
  }

  private async cancelWatches(c: Campaign): Promise<void> {
    const self = c.self;
    c.self = undefined;
    await Promise.all([self?.close(), c.queue?.close()]);
  }
}
