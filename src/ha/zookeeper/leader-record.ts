// The published leader record (an ephemeral znode holding a LeaderInformation message) and a follower that
// reports it: getData with a watch while it exists, an exists watch while it does not, and a fresh read after
// every reconnect and new session (the library's watches do not survive a new session). Used by the retrieval
// driver and by the election driver (to let the service correct differing information).
import type { Event, Stat } from "node-zookeeper-client";
import type { CorruptRecordError } from "../../common/errors.ts";
import type { LeaderInfo } from "../election-driver.ts";
import { decodeLeaderInfo } from "../leader-info.ts";
import type { ZooKeeperConnection } from "./connection.ts";
import { ZkCode, ZkResultError } from "./requests.ts";

export interface LeaderRecordListener {
  onInfo(info: LeaderInfo | undefined): void;
  onError(error: Error): void;
}

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2_000;

export class LeaderRecordFollower {
  private closed = false;
  private reading = false;
  private again = false;
  private retryMs = RETRY_MIN_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  // One function for every watch we set: the library dedups a watcher registered twice on one path.
  private readonly watcher = (_event: Event): void => this.refresh();

  constructor(
    private readonly conn: ZooKeeperConnection,
    private readonly path: string,
    private readonly listener: LeaderRecordListener,
  ) {}

  /** Reads and reports the record once (rejecting when the read fails), then follows it until closed. */
  async start(): Promise<void> {
    this.unsubscribe = this.conn.subscribe({
      onReconnected: () => this.refresh(),
      onNewSession: () => this.refresh(),
    });
    this.reading = true;
    try {
      await this.readOnce();
    } finally {
      this.reading = false;
    }
    if (this.again) this.refresh();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.unsubscribe?.();
  }

  /** Reads again (coalescing overlapping requests); on failure reports the error and retries with back-off. */
  refresh(): void {
    if (this.closed) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    this.again = false;
    clearTimeout(this.retryTimer);
    this.readOnce().then(
      () => {
        this.retryMs = RETRY_MIN_MS;
        this.reading = false;
        if (this.again) this.refresh();
      },
      (e: unknown) => {
        this.reading = false;
        if (this.closed) return;
        this.listener.onError(e instanceof Error ? e : new Error(String(e)));
        this.retryTimer = setTimeout(() => this.refresh(), this.retryMs);
        this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
      },
    );
  }

  private async readOnce(): Promise<void> {
    for (;;) {
      const path = this.path;
      try {
        const data = await this.conn.read<Buffer>("getData", path, (c, done) =>
          c.getData(path, this.watcher, done),
        );
        if (this.closed) return;
        let info: LeaderInfo;
        try {
          info = decodeLeaderInfo(path, data);
        } catch (e: unknown) {
          // Keep following: the watch is set, a corrected record will be reported.
          this.listener.onError(e as CorruptRecordError);
          return;
        }
        this.listener.onInfo(info);
        return;
      } catch (e: unknown) {
        if (!(e instanceof ZkResultError && e.zkCode === ZkCode.NO_NODE)) throw e;
      }
      const stat = await this.conn.read<Stat | null>("exists", path, (c, done) =>
        c.exists(path, this.watcher, done),
      );
      if (this.closed) return;
      if (!stat) {
        this.listener.onInfo(undefined);
        return;
      }
      // Created between the two reads: read it (the exists call armed a data watch on it).
    }
  }
}
