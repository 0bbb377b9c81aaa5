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
import type { Watcher } from "etcd3";
import { monotonicNow, sleep } from "../../common/clock.ts";
import { LeadershipLostError, LifecycleError, StaleFenceError, describeCause } from "../../common/errors.ts";
import { codecs } from "../../generated/records.ts";
import type { LeaderElectionDriver, LeaderElectionListener } from "../election-driver.ts";
import { GuardedLeaderSession, type LeaderSession } from "../leader-session.ts";
import { cancelWatcher, deadline, type EtcdContext, prefixEnd, unavailable, writeOnce } from "./client.ts";
import { CampaignKeyWatch } from "./campaign-key-watch.ts";
import { LeaderFollower } from "./leader-follower.ts";
import { EtcdLease } from "./lease.ts";
import { PredecessorReaper } from "./predecessor-reaper.ts";

interface Campaign {
  readonly gen: number;
  readonly lease: EtcdLease;
  readonly key: string;
  readonly epoch: bigint;
  predecessor: { key: string; watcher: Watcher } | undefined;
  /** Set while the predecessor is the leader (the head of the queue): revokes its lease once it expired. */
  reaper: PredecessorReaper | undefined;
  self: CampaignKeyWatch | undefined;
  checking: boolean;
  recheck: boolean;
}

/** Thrown inside the driver when a campaign was superseded (close, newer generation) while it registered. */
class Superseded extends Error {}

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
    const value = codecs.LeaderInformation.encode({
      version: 1,
      ...info,
      epoch: session.epoch,
      sessionId: session.id,
    });
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

  /** Grants a lease and creates the campaign key on it. */
  private async register(gen: number): Promise<Campaign> {
    const { ttlMs, requestTimeoutMs } = this.ctx.config;
    const lease = await EtcdLease.grant(this.ctx, ttlMs, requestTimeoutMs);
    const abandon = (): void => void lease.revoke(requestTimeoutMs).catch(() => undefined);
    if (gen !== this.gen) {
      abandon();
      throw new Superseded();
    }
    const key = `${this.campaignPrefix}${lease.hex}`;
    let epoch: bigint;
    try {
      // Create-if-absent makes the request safe to retry when its reply was lost: the key names our lease.
      const res = await writeOnce(this.ctx, "create campaign key", key, (ms) =>
        this.ctx.client.kv.txn(
          {
            compare: [{ key: Buffer.from(key), target: "Create", result: "Equal", create_revision: 0 }],
            success: [{ request_put: { key: Buffer.from(key), value: Buffer.alloc(0), lease: lease.id } }],
            failure: [{ request_range: { key: Buffer.from(key) } }],
          },
          deadline(ms),
        ),
      );
      const existing = res.responses[0]?.response_range?.kvs[0];
      epoch = res.succeeded ? BigInt(res.header.revision) : BigInt(existing?.create_revision ?? 0);
    } catch (e: unknown) {
      abandon();
      throw e;
    }
    if (gen !== this.gen) {
      abandon();
      throw new Superseded();
    }
    return {
      gen,
      lease,
      key,
      epoch,
      predecessor: undefined,
      reaper: undefined,
      self: undefined,
      checking: false,
      recheck: false,
    };
  }

  private begin(c: Campaign): void {
    this.campaign = c;
    this.ctx.logger.debug("etcd: campaigning", { key: c.key, epoch: c.epoch });
    c.lease.start({
      onRenewed: (provenUntil) => {
        if (c !== this.campaign) return;
        if (this.session) {
          this.session.extendDeadline(provenUntil - this.ctx.config.safetyMarginMs);
        } else {
          // Re-check on every renewal while waiting: covers a watch stream stuck on a frozen member.
          void this.check(c);
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
    void this.check(c);
  }

  /** Leads when no campaign key with a lower create revision exists; else watches the predecessor. */
  private async check(c: Campaign): Promise<void> {
    if (c.checking) {
      c.recheck = true;
      return;
    }
    c.checking = true;
    try {
      do {
        c.recheck = false;
        const res = await this.ctx.client.kv.txn(
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
                request_range: {
                  key: Buffer.from(this.campaignPrefix),
                  range_end: prefixEnd(this.campaignPrefix),
                  max_create_revision: (c.epoch - 1n).toString(),
                  sort_order: "Descend",
                  sort_target: "Create",
                  limit: 1,
                  keys_only: true,
                },
              },
              {
                // The head of the queue: when it is our predecessor, we are next and reap its expired lease.
                request_range: {
                  key: Buffer.from(this.campaignPrefix),
                  range_end: prefixEnd(this.campaignPrefix),
                  sort_order: "Ascend",
                  sort_target: "Create",
                  limit: 1,
                  keys_only: true,
                },
              },
            ],
          },
          deadline(this.ctx.config.requestTimeoutMs),
        );
        if (c !== this.campaign || this.session) return;
        if (!res.succeeded) {
          this.endCampaign(c, "campaign key deleted");
          return;
        }
        const predecessor = res.responses[0]?.response_range?.kvs[0];
        if (!predecessor) {
          this.grant(c);
          return;
        }
        const key = predecessor.key.toString();
        const head = res.responses[1]?.response_range?.kvs[0]?.key.toString();
        this.watchPredecessor(c, key, BigInt(res.header.revision) + 1n);
        this.reapPredecessor(c, head === key ? key : undefined);
      } while (c.recheck);
    } catch (e: unknown) {
      // The next keepalive re-checks.
      if (c === this.campaign) this.listener?.onError(e instanceof Error ? e : new Error(describeCause(e)));
    } finally {
      c.checking = false;
    }
  }

  private watchPredecessor(c: Campaign, key: string, fromRevision: bigint): void {
    if (c.predecessor?.key === key) return;
    const old = c.predecessor?.watcher;
    void cancelWatcher(this.ctx, old);
    const watcher = this.ctx.client
      .watch()
      .key(key)
      .startRevision(fromRevision.toString())
      .only("delete")
      .watcher();
    c.predecessor = { key, watcher };
    const mine = (): boolean => c === this.campaign && c.predecessor?.watcher === watcher;
    watcher.on("delete", () => mine() && void this.check(c));
    watcher.on("connected", () => mine() && void this.check(c));
    watcher.on("error", (e: Error) => {
      if (!mine()) return;
      this.listener?.onError(e);
      c.predecessor = undefined;
      void this.check(c);
    });
  }

  /** Runs a reaper for the predecessor `key` while it leads; stops it when `key` is undefined. */
  private reapPredecessor(c: Campaign, key: string | undefined): void {
    if (c.reaper?.key === key) return;
    c.reaper?.stop();
    c.reaper = key ? PredecessorReaper.forKey(this.ctx, this.campaignPrefix, key)?.start() : undefined;
  }

  private grant(c: Campaign): void {
    const deadlineAt = c.lease.provenUntil - this.ctx.config.safetyMarginMs;
    // Not proven alive right now (keepalives failing): wait; the next acknowledged keepalive checks again.
    if (deadlineAt <= monotonicNow()) return;
    const session = new GuardedLeaderSession(c.epoch, c.key, deadlineAt, (s) => {
      const reason = (s.signal.reason as Error).message;
      queueMicrotask(() => this.endCampaign(c, reason));
    });
    this.session = session;
    void cancelWatcher(this.ctx, c.predecessor?.watcher);
    c.predecessor = undefined;
    this.reapPredecessor(c, undefined);
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
    const predecessor = c.predecessor?.watcher;
    c.self = undefined;
    c.predecessor = undefined;
    this.reapPredecessor(c, undefined);
    await Promise.all([self?.close(), cancelWatcher(this.ctx, predecessor)]);
  }
}
