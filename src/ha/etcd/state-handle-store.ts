// The state-handle store on etcd. Every write is one transaction that also compares the writer's campaign key
// with its epoch (DESIGN.md §2 fencing, layer 1); the else-branch reads the fence and the key back so that one
// round trip tells a stale fence from "already exists" / "not found" / "version conflict".
// version = the key's mod_revision.
import { storeFencingEnabled } from "../test-switches.ts";
import type { ICompare, IKeyValue, IRequestOp, ITxnResponse, Watcher } from "etcd3";
import {
  AlreadyExistsError,
  describeCause,
  NotFoundError,
  StaleFenceError,
  VersionConflictError,
} from "../../common/errors.ts";
import type { LeaderSession } from "../leader-session.ts";
import {
  assertFits,
  type StateHandleStore,
  type StoreChange,
  type StoredEntry,
  type StoreWatch,
} from "../state-handle-store.ts";
import {
  cancelWatcher,
  deadline,
  type EtcdContext,
  prefixEnd,
  readWithRetry,
  revisionOf,
  unavailable,
  writeOnce,
} from "./client.ts";

/** etcd refuses requests over 1.5 MiB (--max-request-bytes); keep 64 KiB for the key and the transaction. */
export const ETCD_MAX_VALUE_BYTES = 1.5 * 1024 * 1024 - 64 * 1024;

export class EtcdStateHandleStore implements StateHandleStore {
  readonly maxValueBytes = ETCD_MAX_VALUE_BYTES;
  private readonly root: string;

  /** @param clusterRoot `/vigil/<cluster>`; relative keys live under `<clusterRoot>/`. */
  constructor(
    private readonly ctx: EtcdContext,
    clusterRoot: string,
  ) {
    this.root = `${clusterRoot}/`;
  }

  async get(key: string): Promise<StoredEntry | undefined> {
    const res = await readWithRetry(this.ctx, `get ${key}`, (ms) =>
      this.ctx.client.kv.range({ key: this.abs(key) }, deadline(ms)),
    );
    const kv = res.kvs[0];
    return kv ? this.entry(kv) : undefined;
  }

  async list(dir: string): Promise<StoredEntry[]> {
    const prefix = `${this.root}${dir}/`;
    const res = await readWithRetry(this.ctx, `list ${dir}`, (ms) =>
      this.ctx.client.kv.range({ key: Buffer.from(prefix), range_end: prefixEnd(prefix) }, deadline(ms)),
    );
    return res.kvs
      .filter((kv) => !kv.key.subarray(prefix.length).includes(0x2f)) // direct children only: no further '/'
      .map((kv) => this.entry(kv))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async create(key: string, value: Uint8Array, fence: LeaderSession): Promise<bigint> {
    assertFits(key, value, this.maxValueBytes, "etcd");
    fence.assertLeader();
    const res = await this.fencedTxn("create", key, fence, [cmp(this.abs(key), "Create", "Equal", 0n)], {
      request_put: { key: this.abs(key), value: Buffer.from(value) },
    });
    if (res.succeeded) return BigInt(res.header.revision);
    this.throwIfStale(res, fence, `create ${key}`);
    throw new AlreadyExistsError(key);
  }

  async replace(
    key: string,
    value: Uint8Array,
    expectedVersion: bigint,
    fence: LeaderSession,
  ): Promise<bigint> {
    assertFits(key, value, this.maxValueBytes, "etcd");
    fence.assertLeader();
    const res = await this.fencedTxn(
      "replace",
      key,
      fence,
      [cmp(this.abs(key), "Create", "Greater", 0n), cmp(this.abs(key), "Mod", "Equal", expectedVersion)],
      { request_put: { key: this.abs(key), value: Buffer.from(value) } },
    );
    if (res.succeeded) return BigInt(res.header.revision);
    this.throwIfStale(res, fence, `replace ${key}`);
    const current = res.responses[1]?.response_range?.kvs[0];
    if (!current) throw new NotFoundError(key);
    throw new VersionConflictError(key, expectedVersion, revisionOf(current, "mod_revision"));
  }

  async remove(key: string, fence: LeaderSession, expectedVersion?: bigint): Promise<boolean> {
    fence.assertLeader();
    const compares = [cmp(this.abs(key), "Create", "Greater", 0n)];
    if (expectedVersion !== undefined) compares.push(cmp(this.abs(key), "Mod", "Equal", expectedVersion));
    const res = await this.fencedTxn("remove", key, fence, compares, {
      request_delete_range: { key: this.abs(key) },
    });
    if (res.succeeded) return true;
    this.throwIfStale(res, fence, `remove ${key}`);
    const current = res.responses[1]?.response_range?.kvs[0];
    if (!current) return false;
    throw new VersionConflictError(key, expectedVersion ?? 0n, revisionOf(current, "mod_revision"));
  }

  async watch(dir: string, onChange: (change: StoreChange) => void): Promise<StoreWatch> {
    return EtcdDirectoryWatch.open(this.ctx, `${this.root}${dir}/`, this.root, onChange);
  }

  private abs(key: string): Buffer {
    return Buffer.from(`${this.root}${key}`);
  }

  private entry(kv: IKeyValue): StoredEntry {
    return {
      key: kv.key.toString().slice(this.root.length),
      value: new Uint8Array(kv.value),
      version: revisionOf(kv, "mod_revision"),
    };
  }

  /** One txn: fence compare + the write's own compares; the else-branch reads the fence key and the key. */
  private fencedTxn(
    operation: string,
    key: string,
    fence: LeaderSession,
    compares: ICompare[],
    write: IRequestOp,
  ): Promise<ITxnResponse> {
    const fenceKey = Buffer.from(fence.electionKey);
    return writeOnce(this.ctx, operation, key, (ms) =>
      this.ctx.client.kv.txn(
        {
          compare: storeFencingEnabled()
            ? [cmp(fenceKey, "Create", "Equal", fence.epoch), ...compares]
            : compares,
          success: [write],
          failure: [
            { request_range: { key: fenceKey, keys_only: true } },
            { request_range: { key: this.abs(key), keys_only: true } },
          ],
        },
        deadline(ms),
      ),
    );
  }

  private throwIfStale(res: ITxnResponse, fence: LeaderSession, what: string): void {
    const fenceKv = res.responses[0]?.response_range?.kvs[0];
    if (revisionOf(fenceKv, "create_revision") !== fence.epoch) throw new StaleFenceError(fence.epoch, what);
  }
}

function cmp(key: Buffer, target: "Create" | "Mod", result: "Equal" | "Greater", revision: bigint): ICompare {
  return target === "Create"
    ? { key, target, result, create_revision: revision.toString() }
    : { key, target, result, mod_revision: revision.toString() };
}

/** Watches direct children of one directory; "resync" after a reconnect or a cancelled (compacted) watch. */
class EtcdDirectoryWatch implements StoreWatch {
  private watcher: Watcher | undefined;
  private closed = false;

  private constructor(
    private readonly ctx: EtcdContext,
    private readonly prefix: string,
    private readonly root: string,
    private readonly onChange: (change: StoreChange) => void,
  ) {}

  static async open(
    ctx: EtcdContext,
    prefix: string,
    root: string,
    onChange: (change: StoreChange) => void,
  ): Promise<EtcdDirectoryWatch> {
    const w = new EtcdDirectoryWatch(ctx, prefix, root, onChange);
    try {
      await w.attach();
    } catch (e: unknown) {
      await w.close();
      throw unavailable(ctx, `watch ${prefix}`, e);
    }
    return w;
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.watcher;
    this.watcher = undefined;
    await cancelWatcher(this.ctx, w);
  }

  /** Creates the etcd watcher and resolves once etcd confirmed it (so a list() after watch() misses nothing). */
  private attach(): Promise<void> {
    const w = this.ctx.client.watch().prefix(this.prefix).watcher();
    this.watcher = w;
    const current = (): boolean => this.watcher === w && !this.closed;
    const report = (kind: "put" | "delete", key: Buffer): void => {
      const rest = key.subarray(this.prefix.length);
      if (!current() || rest.length === 0 || rest.includes(0x2f)) return;
      this.onChange({ kind, key: key.toString().slice(this.root.length) });
    };
    let disconnected = false;
    w.on("put", (kv) => report("put", kv.key));
    w.on("delete", (kv) => report("delete", kv.key));
    w.on("disconnected", () => {
      disconnected = true;
    });
    w.on("connected", () => {
      if (!current() || !disconnected) return;
      disconnected = false;
      this.onChange({ kind: "resync" });
    });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.watcher === w) this.watcher = undefined;
        void cancelWatcher(this.ctx, w);
        reject(new Error(`no answer within ${this.ctx.config.requestTimeoutMs} ms`));
      }, this.ctx.config.requestTimeoutMs);
      w.once("connected", () => {
        clearTimeout(timer);
        resolve();
      });
      w.on("error", (e: Error) => {
        clearTimeout(timer);
        reject(e);
        if (!current()) return;
        this.ctx.logger.warn("etcd: store watch cancelled; watching again", {
          prefix: this.prefix,
          cause: describeCause(e),
        });
        this.watcher = undefined;
        void cancelWatcher(this.ctx, w);
        this.reattach();
      });
    });
  }

  private reattach(): void {
    if (this.closed) return;
    this.attach().then(
      () => this.onChange({ kind: "resync" }),
      () => setTimeout(() => this.reattach(), 200),
    );
  }
}
