// Follows one election's leader key: read, report, watch; read again after a reconnect and start over after a
// compaction, so that no change is missed for good. It also reads again every TTL: a watch stream that hangs on
// a frozen member reports nothing and no error, and retrieval must not stay silent behind it for good. Shared by the election driver (which corrects published
// information) and the retrieval driver.
import type { IKeyValue, Watcher } from "etcd3";
import { sleep } from "../../common/clock.ts";
import { describeCause } from "../../common/errors.ts";
import type { LeaderInfo } from "../election-driver.ts";
import { decodeLeaderInfo } from "../leader-info.ts";
import { cancelWatcher, type EtcdContext, readWithRetry } from "./client.ts";

export class LeaderFollower {
  private watcher: Watcher | undefined;
  private closed = false;
  /** Revision of the newest state reported; older reads that answer late are dropped. */
  private reportedRevision = -1n;
  private resyncing = false;
  private refresh: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: EtcdContext,
    private readonly key: string,
    private readonly report: (info: LeaderInfo | undefined) => void,
    private readonly onError: (error: Error) => void,
  ) {}

  /** Reads and reports the leader key, then watches it. BackendUnavailableError past the connect timeout. */
  async start(): Promise<void> {
    const revision = await this.read(this.ctx.config.connectTimeoutMs);
    this.watchFrom(revision + 1n);
    this.refresh = setInterval(() => void this.resync(false), this.ctx.config.ttlMs);
    this.refresh.unref();
  }

  /** Stops following. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.refresh);
    const w = this.watcher;
    this.watcher = undefined;
    await cancelWatcher(this.ctx, w);
  }

  /** Reads the key, reports it, returns the revision the read saw. */
  private async read(timeoutMs: number): Promise<bigint> {
    const res = await readWithRetry(
      this.ctx,
      `read leader information ${this.key}`,
      (ms) => this.ctx.client.kv.range({ key: Buffer.from(this.key) }, { deadline: Date.now() + ms }),
      timeoutMs,
    );
    const revision = BigInt(res.header.revision);
    this.reportValue(revision, res.kvs[0]);
    return revision;
  }

  private reportValue(revision: bigint, kv: IKeyValue | undefined): void {
    if (this.closed || revision < this.reportedRevision) return;
    this.reportedRevision = revision;
    if (!kv) {
      this.report(undefined);
      return;
    }
    let info: LeaderInfo;
    try {
      info = decodeLeaderInfo(this.key, kv.value);
    } catch (e: unknown) {
      this.onError(e as Error);
      return;
    }
    this.report(info);
  }

  private watchFrom(revision: bigint): void {
    if (this.closed) return;
    const w = this.ctx.client.watch().key(this.key).startRevision(revision.toString()).watcher();
    this.watcher = w;
    const current = (): boolean => this.watcher === w && !this.closed;
    let disconnected = false;
    w.on("put", (kv) => current() && this.reportValue(BigInt(kv.mod_revision), kv));
    w.on("delete", (kv) => current() && this.reportValue(BigInt(kv.mod_revision), undefined));
    w.on("disconnected", (e: Error) => {
      if (!current()) return;
      disconnected = true;
      this.onError(new Error(`watch of ${this.key} lost its connection: ${describeCause(e)}`, { cause: e }));
    });
    w.on("connected", () => {
      if (!current() || !disconnected) return;
      disconnected = false;
      void this.resync(false);
    });
    w.on("error", (e: Error) => {
      // etcd cancelled the watch (e.g. its start revision was compacted): read again and start a new watch.
      if (!current()) return;
      this.onError(new Error(`watch of ${this.key} was cancelled: ${describeCause(e)}`, { cause: e }));
      this.watcher = undefined;
      void cancelWatcher(this.ctx, w);
      void this.resync(true);
    });
  }

  /** Reads again until it succeeds (or the follower closes); with `rewatch`, starts a new watch after it. */
  private async resync(rewatch: boolean): Promise<void> {
    if (this.resyncing && !rewatch) return;
    this.resyncing = true;
    let delay = 50;
    try {
      while (!this.closed) {
        try {
          const revision = await this.read(this.ctx.config.requestTimeoutMs);
          if (rewatch) this.watchFrom(revision + 1n);
          return;
        } catch (e: unknown) {
          this.onError(e as Error);
          await sleep(delay);
          delay = Math.min(delay * 2, 1_000);
        }
      }
    } finally {
      this.resyncing = false;
    }
  }
}
