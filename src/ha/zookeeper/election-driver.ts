// Leader election on ZooKeeper, after Curator's LeaderLatch (DESIGN.md §2):
//   - a latch znode <election>/latch/_c_<driver>-<campaign>-latch-<seq>, EPHEMERAL_SEQUENTIAL; the "protected"
//     prefix finds a node again whose create lost its answer (latch-nodes.ts);
//   - the lowest sequence leads; the others watch only their predecessor (no herd effect);
//   - epoch = the latch node's czxid; the leader session's deadline comes from the connection's proof of life
//     (connection.ts) and a timer revokes at that deadline, whatever the library says;
//   - any revoke other than close abandons the latch and campaigns with a new one, so that every grant has a
//     new, higher epoch; `campaign` (a generation counter) makes callbacks of an abandoned campaign no-ops.
import type { Event, Stat } from "node-zookeeper-client";
import { monotonicNow } from "../../common/clock.ts";
import {
  BackendUnavailableError,
  LeadershipLostError,
  LifecycleError,
  StaleFenceError,
} from "../../common/errors.ts";
import type { Logger } from "../../common/logger.ts";
import type { LeaderElectionDriver, LeaderElectionListener } from "../election-driver.ts";
import { encodeLeaderInfo } from "../leader-info.ts";
import { GuardedLeaderSession, type LeaderSession } from "../leader-session.ts";
import type { ZooKeeperConnection } from "./connection.ts";
import { type Latch, LatchNodes, sequenceOf } from "./latch-nodes.ts";
import { LeaderRecordFollower } from "./leader-record.ts";
import { CreateMode, commitMulti, type MultiOutcome, type ZkOp, zxid } from "./requests.ts";

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2_000;

export class ZooKeeperElectionDriver implements LeaderElectionDriver {
  private state: "created" | "started" | "closed" = "created";
  private listener: LeaderElectionListener | undefined;
  private readonly latchDir: string;
  private readonly latches: LatchNodes;
  private campaign = 0;
  private latch: Latch | undefined;
  private leader: GuardedLeaderSession | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MIN_MS;
  /** The campaign whose check is running; a newer campaign never waits behind an older one's check. */
  private checking: number | undefined;
  private checkAgain = false;
  private unsubscribe: (() => void) | undefined;
  private follower: LeaderRecordFollower | undefined;
  private readonly watcher = (_event: Event): void => this.checkSoon(this.campaign);

  constructor(
    private readonly conn: ZooKeeperConnection,
    electionRoot: string,
    private readonly leaderPath: string,
    private readonly logger: Logger,
  ) {
    this.latchDir = `${electionRoot}/latch`;
    this.latches = new LatchNodes(conn, this.latchDir);
  }

  async start(listener: LeaderElectionListener): Promise<void> {
    if (this.state !== "created")
      throw new LifecycleError(`election driver for ${this.latchDir}: start() called twice`);
    if (!this.conn.isOpen)
      throw new BackendUnavailableError("ZooKeeper backend is not connected: call connect() first");
    this.state = "started";
    this.listener = listener;
    this.unsubscribe = this.conn.subscribe({
      onSessionLost: (reason) => this.abandon(reason, false),
      onNewSession: () => {
        if (!this.latch) this.runCampaign(++this.campaign);
      },
      onReconnected: () => this.checkSoon(this.campaign),
      onAlive: (deadline) => this.leader?.extendDeadline(deadline),
    });
    this.follower = new LeaderRecordFollower(this.conn, this.leaderPath, {
      onInfo: (info) => this.state === "started" && listener.onLeaderInformationChange(info),
      onError: (error) => this.state === "started" && listener.onError(error),
    });
    const campaign = ++this.campaign;
    try {
      await this.register(campaign);
    } catch (e: unknown) {
      await this.close();
      throw e;
    }
    this.follower.refresh();
    this.checkSoon(campaign);
  }

  async publishLeaderInformation(
    session: LeaderSession,
    info: { name: string; address: string },
  ): Promise<void> {
    session.assertLeader();
    const latch = this.latch;
    if (this.leader !== session || !latch || latch.path !== session.electionKey) {
      throw new LeadershipLostError(session.epoch, "not the current leader session of this driver");
    }
    const data = Buffer.from(encodeLeaderInfo(session, info));
    const what = `publish leader information at ${this.leaderPath}`;
    for (let attempt = 0; attempt < 3; attempt++) {
      const stat = await this.conn.read<Stat | null>("exists", this.leaderPath, (c, done) =>
        c.exists(this.leaderPath, done),
      );
      const ops: ZkOp[] = [{ type: "check", path: latch.path, version: -1 }];
      if (stat && stat.ephemeralOwner.toString("hex") === this.conn.sessionId) {
        ops.push({ type: "setData", path: this.leaderPath, data, version: stat.version });
      } else {
        if (stat) ops.push({ type: "remove", path: this.leaderPath, version: stat.version });
        ops.push({ type: "create", path: this.leaderPath, data, mode: CreateMode.EPHEMERAL });
      }
      session.assertLeader();
      const outcome = await this.multi("publish leader information", ops);
      if (outcome.ok) return;
      if (outcome.index === 0) throw new StaleFenceError(session.epoch, what);
      // Raced with another change of the leader znode (a stale record expiring): read again.
    }
    throw new BackendUnavailableError(`${what}: the leader znode kept changing; try again`);
  }

  async close(): Promise<void> {
    if (this.state === "closed") return;
    const wasLeader = this.leader !== undefined;
    const latch = this.latch;
    this.stop("closed: resigned");
    if (!latch || !this.conn.isOpen) return;
    // Resign at once: a standby's predecessor watch fires as soon as the latch is gone.
    try {
      if (wasLeader) {
        const outcome = await this.multi("resign", [
          { type: "check", path: latch.path, version: -1 },
          { type: "remove", path: this.leaderPath, version: -1 },
          { type: "remove", path: latch.path, version: -1 },
        ]);
        if (outcome.ok) return;
      }
      await this.latches.remove(latch.path);
    } catch (e: unknown) {
      // The session's end (backend close, or expiry) removes the ephemeral nodes anyway.
      this.logger.warn("could not delete the latch node on close", { path: latch.path, error: String(e) });
    }
  }

  /**
   * Stops without resigning, for the backend's close (ending the session removes the latch): revokes a held
   * session first, so that this process stops acting before the session ends. Idempotent.
   */
  stop(reason: string): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.campaign++;
    clearTimeout(this.retryTimer);
    this.unsubscribe?.();
    this.follower?.close();
    this.revoke(reason);
    this.latch = undefined;
  }

  private multi(what: string, ops: ZkOp[]): Promise<MultiOutcome> {
    return this.conn.write<MultiOutcome>(what, ops[ops.length - 1]!.path, (c, done) =>
      commitMulti(c, ops, done),
    );
  }

  /** Runs a campaign's registration and first check, retrying with back-off while it is current. */
  private runCampaign(campaign: number): void {
    this.register(campaign).then(
      () => this.checkSoon(campaign),
      (e: unknown) => this.retry(campaign, e, () => this.runCampaign(campaign)),
    );
  }

  private retry(campaign: number, e: unknown, again: () => void): void {
    if (campaign !== this.campaign || this.state !== "started") return;
    this.listener?.onError(e instanceof Error ? e : new Error(String(e)));
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(again, this.retryMs);
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }

  /** Creates this campaign's latch node (finding it again after a lost answer) and records its epoch. */
  private async register(campaign: number): Promise<void> {
    const name = await this.latches.create(campaign);
    const path = `${this.latchDir}/${name}`;
    const stat = await this.conn.read<Stat | null>("exists", path, (c, done) =>
      c.exists(path, this.watcher, done),
    );
    if (campaign !== this.campaign || this.state !== "started") {
      await this.latches.remove(path).catch(() => {});
      return;
    }
    if (!stat) throw new BackendUnavailableError(`latch node ${path} vanished right after its creation`);
    this.latch = { campaign, name, path, epoch: zxid(stat.czxid) };
    this.retryMs = RETRY_MIN_MS;
    this.logger.debug("campaigning", { latch: path, epoch: this.latch.epoch });
  }

  /**
   * Checks the latch order soon; overlapping requests of one campaign coalesce into one more check. A check of
   * an older campaign (stuck on a frozen server, say) neither blocks nor swallows the current campaign's.
   */
  private checkSoon(campaign: number): void {
    if (campaign !== this.campaign || this.state !== "started" || !this.latch) return;
    if (this.checking === campaign) {
      this.checkAgain = true;
      return;
    }
    this.checking = campaign;
    this.checkAgain = false;
    const finished = (): boolean => {
      if (this.checking !== campaign) return false;
      this.checking = undefined;
      return true;
    };
    this.check(campaign).then(
      () => {
        if (finished() && this.checkAgain) this.checkSoon(campaign);
      },
      (e: unknown) => {
        if (finished()) this.retry(campaign, e, () => this.checkSoon(campaign));
      },
    );
  }

  private async check(campaign: number): Promise<void> {
    for (;;) {
      const children = await this.latches.children();
      const latch = this.latch;
      if (campaign !== this.campaign || this.state !== "started" || !latch) return;
      const own = this.latches.ownPrefix;
      // Latches of our own abandoned campaigns (same session) are not contenders: delete them.
      const stale = children.filter((n) => n.startsWith(own) && n !== latch.name);
      for (const n of stale) void this.latches.remove(`${this.latchDir}/${n}`).catch(() => {});
      const contenders = children
        .filter((n) => !stale.includes(n))
        .sort((a, b) => sequenceOf(a) - sequenceOf(b));
      const index = contenders.indexOf(latch.name);
      if (index < 0) {
        this.abandon("latch node deleted", true);
        return;
      }
      if (index === 0) {
        this.grant(latch);
        return;
      }
      const predecessor = `${this.latchDir}/${contenders[index - 1]}`;
      const stat = await this.conn.read<Stat | null>("exists", predecessor, (c, done) =>
        c.exists(predecessor, this.watcher, done),
      );
      if (stat) return; // The watch fires when the predecessor goes.
    }
  }

  private grant(latch: Latch): void {
    if (this.leader) return;
    const deadline = this.conn.deadline;
    if (deadline <= monotonicNow()) {
      // Nothing proves the session alive right now; the next answered probe will.
      this.retry(latch.campaign, new BackendUnavailableError("ZooKeeper session not proven alive"), () =>
        this.checkSoon(latch.campaign),
      );
      return;
    }
    const session = new GuardedLeaderSession(latch.epoch, latch.path, deadline, (s) => {
      if (this.leader === s) this.abandon("zombie guard: session deadline passed", true);
    });
    this.leader = session;
    this.logger.info("leadership granted", { latch: latch.path, epoch: latch.epoch });
    this.listener?.onGrantLeadership(session);
    this.follower?.refresh();
  }

  private revoke(reason: string): void {
    const session = this.leader;
    if (!session) return;
    this.leader = undefined;
    session.revoke(reason);
    this.logger.info("leadership revoked", { latch: session.electionKey, epoch: session.epoch, reason });
    this.listener?.onRevokeLeadership(session, reason);
  }

  /**
   * Ends the current campaign: revokes, forgets the latch (deleting it when the session may still hold it) and,
   * if `now`, campaigns again with a new latch; otherwise the next new session starts the campaign.
   */
  private abandon(reason: string, now: boolean): void {
    this.revoke(reason);
    const old = this.latch;
    this.latch = undefined;
    const campaign = ++this.campaign;
    clearTimeout(this.retryTimer);
    this.retryMs = RETRY_MIN_MS;
    if (this.state !== "started") return;
    if (old && now) void this.latches.remove(old.path).catch(() => {});
    if (now) this.runCampaign(campaign);
  }
}
