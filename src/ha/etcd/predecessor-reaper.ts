// Reaps the lease of a dead leader as soon as etcd considers it expired (DESIGN.md §6 failover target).
//
// etcd 3.4 revokes expired leases in `lessor.runLoop`, every 500 ms, so a dead leader's campaign key lingers up
// to 0.5 s past its lease's expiry. The standby right behind the leader asks etcd for the leader lease's
// remaining TTL and revokes it itself once etcd has *proven* it expired; the standby's predecessor watch then
// fires as usual.
//
// What LeaseTimeToLive says: `int64(remaining.Seconds())`, truncated toward zero. A reading k ≥ 1 means
// remaining ∈ [k, k+1); a reading 0 means remaining ∈ (−1, 1): a live lease near its end and an expired one look
// the same. So "TTL ≤ 0" alone must never trigger a revoke (a live 1 s lease reads 0 its whole life). Proof used
// here, for leases of at least 2 s (a renewal makes the lease read ≥ 1 for TTL − 1 ≥ 1 s afterwards):
//   a reading 0 answered by local time b₀, then readings 0 only, consecutive ones less than 1 s apart (send of
//   one to reply of the next), the last one sent at or after b₀ + 1 s. No renewal happened in between (it would
//   have shown as ≥ 1), so the lease expired before b₀ + 1 s, i.e. before etcd evaluated the last reading.
// A reading ≤ −1 of an existing lease (granted TTL > 0) is expired by at least a second: proof enough.
//
// Why revoking an expired lease is safe: in etcd 3.4 `lessor.Renew` of an expired lease waits for its revocation
// and answers "lease not found" (checked in ha-tests/etcd-election.test.ts), so the deposed leader cannot bring it
// back; and its zombie guard ended its session at (send time of its last acknowledged keepalive + TTL − margin),
// before etcd's expiry at (processing time of that keepalive + TTL). The reaper only does early what etcd's
// lessor does anyway. Leases of 1 s cannot be proven expired this way: the reaper does nothing for them.
import { monotonicNow } from "../../common/clock.ts";
import { describeCause } from "../../common/errors.ts";
import { deadline, type EtcdContext } from "./client.ts";

/**
 * Poll period while the lease may be in its last second (reads 1 or 0). A dead leader's key goes at most this
 * long (plus a round trip) after etcd's expiry. Only one process per election polls: the leader's successor.
 */
const POLL_MS = 200;
/** Consecutive readings must be closer than one second (the shortest time a renewal reads ≥ 1); with slack. */
const MAX_GAP_MS = 900;
/** Slack over one second for clock-rate differences between this process and etcd. */
const SLACK_MS = 20;

export class PredecessorReaper {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Reply time of the first 0 reading of the current run of 0 readings. */
  private zeroSince: number | undefined;
  /** Send time of the previous answered reading. */
  private lastSentAt: number | undefined;

  private constructor(
    private readonly ctx: EtcdContext,
    /** The predecessor's campaign key. */
    readonly key: string,
    private readonly leaseId: string,
    private readonly hex: string,
  ) {}

  /** A reaper for the campaign key `<prefix><lease-hex>`, or undefined when the key does not name a lease. */
  static forKey(ctx: EtcdContext, prefix: string, key: string): PredecessorReaper | undefined {
    const hex = key.slice(prefix.length);
    if (!key.startsWith(prefix) || !/^[0-9a-f]{1,16}$/.test(hex)) return undefined;
    return new PredecessorReaper(ctx, key, BigInt(`0x${hex}`).toString(), hex);
  }

  start(): this {
    this.schedule(0);
    return this;
  }

  /** Idempotent. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), Math.max(0, ms));
  }

  private restart(): void {
    this.zeroSince = undefined;
    this.lastSentAt = undefined;
  }

  private async poll(): Promise<void> {
    const sentAt = monotonicNow();
    let ttl: number;
    let granted: number;
    try {
      const res = await this.ctx.client.leaseClient.leaseTimeToLive(
        { ID: this.leaseId },
        deadline(this.ctx.config.requestTimeoutMs),
      );
      ttl = Number(res.TTL);
      granted = Number(res.grantedTTL);
    } catch (e: unknown) {
      if (this.stopped) return;
      this.ctx.logger.debug("etcd: could not read the predecessor lease's TTL", {
        lease: this.hex,
        cause: describeCause(e),
      });
      this.restart();
      this.schedule(POLL_MS);
      return;
    }
    if (this.stopped) return;
    const at = monotonicNow();
    // etcd answers TTL −1 without a granted TTL for a lease it does not know: gone already.
    if (granted <= 0) return;
    if (granted < 2) {
      this.ctx.logger.debug("etcd: predecessor lease under 2 s: its expiry cannot be proven early", {
        lease: this.hex,
      });
      return;
    }
    const continuous = this.lastSentAt !== undefined && at - this.lastSentAt < MAX_GAP_MS;
    this.lastSentAt = sentAt;
    if (ttl <= -1) {
      void this.reap("expired over a second ago");
      return;
    }
    if (ttl >= 1) {
      // Cannot read 0 before another ttl − 1 s have passed; a live leader keeps it from reaching 0 at all.
      this.zeroSince = undefined;
      this.schedule(ttl >= 2 ? (ttl - 1) * 1000 - (at - sentAt) : POLL_MS);
      return;
    }
    if (this.zeroSince === undefined || !continuous) this.zeroSince = at;
    const provenAt = this.zeroSince + 1000 + SLACK_MS;
    if (sentAt >= provenAt) {
      void this.reap("no renewal for a second after it entered its last second");
      return;
    }
    this.schedule(Math.min(POLL_MS, provenAt - monotonicNow()));
  }

  private async reap(proof: string): Promise<void> {
    try {
      await this.ctx.client.leaseClient.leaseRevoke(
        { ID: this.leaseId },
        deadline(this.ctx.config.requestTimeoutMs),
      );
      this.ctx.logger.info("etcd: revoked the expired lease of the leader's campaign key", {
        lease: this.hex,
        key: this.key,
        proof,
      });
    } catch (e: unknown) {
      // Not found: etcd's own lessor got there first.
      if (e instanceof Error && e.message.includes("requested lease not found")) return;
      this.ctx.logger.debug("etcd: could not revoke the predecessor's expired lease", {
        lease: this.hex,
        cause: describeCause(e),
      });
      this.restart();
      this.schedule(POLL_MS);
    }
  }
}
