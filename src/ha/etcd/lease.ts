// An etcd lease with our own keepalive loop (etcd's concurrency.Session, without etcd3's auto keepalive).
//
// Why our own loop: etcd3's keepalive reports a lost lease only ~2×TTL after the last good keepalive and does
// not say when the acknowledged request was sent. Here every keepalive records its monotonic send time; when
// etcd acknowledges it, etcd cannot expire the lease before send time + TTL (the server restarts the TTL when
// it processes the request, which is after we sent it). That bound feeds the zombie guard's deadline.
import { castGrpcError, type Etcd3, type ILeaseKeepAliveResponse } from "etcd3";
import { monotonicNow } from "../../common/clock.ts";
import { describeCause } from "../../common/errors.ts";
import { deadline, type EtcdContext } from "./client.ts";

export interface LeaseListener {
  /** A keepalive sent at some time was acknowledged: etcd cannot expire the lease before `provenUntil`. */
  onRenewed(provenUntil: number): void;
  /** etcd says the lease no longer exists (expired or revoked). Called at most once; the loop stops. */
  onLost(reason: string): void;
  /** A keepalive failed (timeout, connection); the loop keeps trying. Informational. */
  onError(error: Error): void;
}

/** At most this many keepalives in flight: a frozen member must not collect an unbounded number of streams. */
const MAX_IN_FLIGHT = 4;

export class EtcdLease {
  private proven: number;
  private timer: NodeJS.Timeout | undefined;
  private listener: LeaseListener | undefined;
  private stopped = false;
  private inFlight = 0;
  private failing = false;

  private constructor(
    private readonly ctx: EtcdContext,
    /** Decimal lease id, as etcd3 hands it out. */
    readonly id: string,
    readonly ttlMs: number,
    provenUntil: number,
  ) {
    this.proven = provenUntil;
  }

  /** Grants a lease of `ttlMs` (whole seconds) without starting keepalives. */
  static async grant(ctx: EtcdContext, ttlMs: number, timeoutMs: number): Promise<EtcdLease> {
    const sentAt = monotonicNow();
    const res = await ctx.client.leaseClient.leaseGrant(
      { TTL: Math.ceil(ttlMs / 1000) },
      deadline(timeoutMs),
    );
    const granted = Number(res.TTL) * 1000;
    return new EtcdLease(ctx, res.ID, granted, sentAt + granted);
  }

  /** The lease id in hex, as `etcdctl` prints it; names the campaign key. */
  get hex(): string {
    return BigInt(this.id).toString(16);
  }

  /** Monotonic ms before which etcd cannot have expired the lease. */
  get provenUntil(): number {
    return this.proven;
  }

  /** Starts keepalives every TTL/4 (etcd3 and Go use TTL/3; a little more often leaves room for one loss). */
  start(listener: LeaseListener): void {
    this.listener = listener;
    this.schedule(0);
  }

  /** Stops keepalives; the lease then expires by its TTL unless revoked. Idempotent. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Stops keepalives and revokes the lease, deleting every key attached to it. Rejects on failure. */
  async revoke(timeoutMs: number): Promise<void> {
    this.stop();
    try {
      await this.ctx.client.leaseClient.leaseRevoke({ ID: this.id }, deadline(timeoutMs));
    } catch (e: unknown) {
      // Already gone is what we wanted.
      if (e instanceof Error && e.message.includes("requested lease not found")) return;
      throw e;
    }
  }

  private get intervalMs(): number {
    return Math.max(50, Math.round(this.ttlMs / 4));
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), ms);
  }

  private tick(): void {
    if (this.stopped) return;
    this.schedule(this.intervalMs);
    if (this.inFlight >= MAX_IN_FLIGHT) return;
    this.inFlight++;
    this.keepaliveOnce()
      .then((res) => this.onReply(res.sentAt, res.ttlSeconds))
      .catch((e: unknown) => this.onFailure(e))
      .finally(() => {
        this.inFlight--;
      });
  }

  private onReply(sentAt: number, ttlSeconds: number): void {
    if (this.stopped) return;
    if (ttlSeconds <= 0) {
      this.stop();
      this.listener?.onLost(`etcd reports lease ${this.hex} expired or revoked`);
      return;
    }
    if (this.failing) this.ctx.logger.info("etcd lease keepalive acknowledged again", { lease: this.hex });
    this.failing = false;
    const provenUntil = sentAt + ttlSeconds * 1000;
    if (provenUntil > this.proven) this.proven = provenUntil;
    this.listener?.onRenewed(this.proven);
  }

  private onFailure(e: unknown): void {
    if (this.stopped) return;
    const error = new Error(`etcd lease ${this.hex}: keepalive failed: ${describeCause(e)}`, { cause: e });
    if (!this.failing) this.ctx.logger.warn(error.message);
    this.failing = true;
    this.listener?.onError(error);
    // Try again soon, but not in a tight loop: unreachable members fail fast.
    this.schedule(Math.round(this.intervalMs / 2));
  }

  private async keepaliveOnce(): Promise<{ sentAt: number; ttlSeconds: number }> {
    const sentAt = monotonicNow();
    // Short enough that a keepalive stuck on a frozen member gives way to the next one well before the deadline.
    const timeout = Math.min(this.ctx.config.requestTimeoutMs, Math.max(100, Math.round(this.ttlMs / 3)));
    try {
      const res = await Promise.any(this.ctx.keepaliveClients.map((c) => this.keepaliveVia(c, timeout)));
      return { sentAt, ttlSeconds: Number(res.TTL) };
    } catch (e: unknown) {
      throw e instanceof AggregateError ? (e.errors[0] ?? e) : e;
    }
  }

  private async keepaliveVia(client: Etcd3, timeoutMs: number): Promise<ILeaseKeepAliveResponse> {
    const stream = await client.leaseClient.leaseKeepAlive(deadline(timeoutMs));
    const res = await new Promise<ILeaseKeepAliveResponse>((resolve, reject) => {
      stream.on("data", resolve);
      stream.on("error", (err) => reject(castGrpcError(err)));
      stream.on("end", () => reject(new Error("keepalive stream ended without a reply")));
      stream.write({ ID: this.id });
    });
    stream.end();
    return res;
  }
}
