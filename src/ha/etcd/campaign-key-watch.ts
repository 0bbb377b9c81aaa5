// Watches a campaign's own key for deletion (someone deleted it, or its lease went), and keeps watching when
// etcd drops the watch (etcd3 emits `error` and forgets the watcher, e.g. after a compaction): it reads the key
// again, reports it deleted if it is gone, and otherwise watches again from the revision it read.
import type { Watcher } from "etcd3";
import { sleep } from "../../common/clock.ts";
import { describeCause } from "../../common/errors.ts";
import { cancelWatcher, deadline, type EtcdContext } from "./client.ts";

export class CampaignKeyWatch {
  private watcher: Watcher | undefined;
  private closed = false;

  constructor(
    private readonly ctx: EtcdContext,
    private readonly key: string,
    /** The key's create revision: a key of that name created later is not ours. */
    private readonly epoch: bigint,
    private readonly onDeleted: (reason: string) => void,
    private readonly onError: (error: Error) => void,
  ) {}

  /** Watches for deletions from `revision` on (the revision after the key's creation, at first). */
  start(revision: bigint = this.epoch + 1n): void {
    if (this.closed) return;
    const w = this.ctx.client
      .watch()
      .key(this.key)
      .startRevision(revision.toString())
      .only("delete")
      .watcher();
    this.watcher = w;
    w.on("delete", () => !this.closed && this.onDeleted("campaign key deleted"));
    w.on("error", (e: Error) => {
      if (this.closed || this.watcher !== w) return;
      this.onError(
        new Error(`watch of campaign key ${this.key} was cancelled: ${describeCause(e)}`, { cause: e }),
      );
      this.watcher = undefined;
      void cancelWatcher(this.ctx, w);
      void this.rewatch();
    });
  }

  /** Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.watcher;
    this.watcher = undefined;
    await cancelWatcher(this.ctx, w);
  }

  private async rewatch(): Promise<void> {
    let delay = 50;
    while (!this.closed) {
      try {
        const res = await this.ctx.client.kv.range(
          { key: Buffer.from(this.key) },
          deadline(this.ctx.config.requestTimeoutMs),
        );
        if (this.closed) return;
        const kv = res.kvs[0];
        if (!kv || BigInt(kv.create_revision) !== this.epoch) {
          this.onDeleted("campaign key deleted");
          return;
        }
        this.start(BigInt(res.header.revision) + 1n);
        return;
      } catch (e: unknown) {
        if (this.closed) return;
        this.onError(e instanceof Error ? e : new Error(describeCause(e)));
        await sleep(delay);
        delay = Math.min(delay * 2, 1_000);
      }
    }
  }
}
