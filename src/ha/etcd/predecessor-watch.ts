// A campaign's place in the queue of campaign keys (election-driver.ts): the campaign with the lowest create
// revision leads; any other watches only its predecessor's key and checks again when it goes. While that
// predecessor is the head of the queue (the leader), a PredecessorReaper revokes its lease once etcd proves it
// expired (predecessor-reaper.ts).
import type { Watcher } from "etcd3";
import { describeCause } from "../../common/errors.ts";
import { cancelWatcher, deadline, type EtcdContext, prefixEnd } from "./client.ts";
import { PredecessorReaper } from "./predecessor-reaper.ts";

/** What a check reports to the driver; all calls are for this watch's own campaign. */
export interface QueueHooks {
  /** Whether the campaign is still the driver's current one: answers for an ended campaign are ignored. */
  isCurrent(): boolean;
  /** Whether the driver leads already: a check then changes nothing. */
  isLeading(): boolean;
  /** No campaign key with a lower create revision exists: the campaign leads. */
  onHead(revision: bigint): void;
  /** The campaign's own key is gone. */
  onKeyDeleted(reason: string): void;
  onError(error: Error): void;
}

export class PredecessorWatch {
  private predecessor: { key: string; watcher: Watcher } | undefined;
  /** Set while the predecessor is the leader (the head of the queue): revokes its lease once it expired. */
  private reaper: PredecessorReaper | undefined;
  private checking = false;
  private recheck = false;

  constructor(
    private readonly ctx: EtcdContext,
    private readonly campaignPrefix: string,
    /** The campaign's own key and its create revision. */
    private readonly key: string,
    private readonly epoch: bigint,
    private readonly hooks: QueueHooks,
  ) {}

  /** Leads when no campaign key with a lower create revision exists; else watches the predecessor. */
  async check(): Promise<void> {
    if (this.checking) {
      this.recheck = true;
      return;
    }
    this.checking = true;
    try {
      do {
        this.recheck = false;
        const res = await this.ctx.client.kv.txn(
          {
            compare: [
              {
                key: Buffer.from(this.key),
                target: "Create",
                result: "Equal",
                create_revision: this.epoch.toString(),
              },
            ],
            success: [
              {
                request_range: {
                  key: Buffer.from(this.campaignPrefix),
                  range_end: prefixEnd(this.campaignPrefix),
                  max_create_revision: (this.epoch - 1n).toString(),
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
        if (!this.hooks.isCurrent() || this.hooks.isLeading()) return;
        if (!res.succeeded) {
          this.hooks.onKeyDeleted("campaign key deleted");
          return;
        }
        const predecessor = res.responses[0]?.response_range?.kvs[0];
        if (!predecessor) {
          this.hooks.onHead(BigInt(res.header.revision));
          return;
        }
        const key = predecessor.key.toString();
        const head = res.responses[1]?.response_range?.kvs[0]?.key.toString();
        this.watchPredecessor(key, BigInt(res.header.revision) + 1n);
        this.reapPredecessor(head === key ? key : undefined);
      } while (this.recheck);
    } catch (e: unknown) {
      // The next keepalive re-checks.
      if (this.hooks.isCurrent()) this.hooks.onError(e instanceof Error ? e : new Error(describeCause(e)));
    } finally {
      this.checking = false;
    }
  }

  /** Stops watching and reaping the predecessor, without waiting for the watch's cancellation (on a grant). */
  stop(): void {
    void cancelWatcher(this.ctx, this.predecessor?.watcher);
    this.predecessor = undefined;
    this.reapPredecessor(undefined);
  }

  /** Stops watching and reaping the predecessor; resolves once the watch is cancelled (or gave up). */
  close(): Promise<void> {
    const predecessor = this.predecessor?.watcher;
    this.predecessor = undefined;
    this.reapPredecessor(undefined);
    return cancelWatcher(this.ctx, predecessor);
  }

  private watchPredecessor(key: string, fromRevision: bigint): void {
    if (this.predecessor?.key === key) return;
    const old = this.predecessor?.watcher;
    void cancelWatcher(this.ctx, old);
    const watcher = this.ctx.client
      .watch()
      .key(key)
      .startRevision(fromRevision.toString())
      .only("delete")
      .watcher();
    this.predecessor = { key, watcher };
    const mine = (): boolean => this.hooks.isCurrent() && this.predecessor?.watcher === watcher;
    watcher.on("delete", () => mine() && void this.check());
    watcher.on("connected", () => mine() && void this.check());
    watcher.on("error", (e: Error) => {
      if (!mine()) return;
      this.hooks.onError(e);
      this.predecessor = undefined;
      void this.check();
    });
  }

  /** Runs a reaper for the predecessor `key` while it leads; stops it when `key` is undefined. */
  private reapPredecessor(key: string | undefined): void {
    if (this.reaper?.key === key) return;
    this.reaper?.stop();
    this.reaper = key ? PredecessorReaper.forKey(this.ctx, this.campaignPrefix, key)?.start() : undefined;
  }
}
