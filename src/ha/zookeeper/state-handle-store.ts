// StateHandleStore on ZooKeeper: key "jobgraphs/j1" is the znode /vigil/<cluster>/jobgraphs/j1.
//
// Every write is one multi that starts with check(fence.electionKey): the fence's latch node is ephemeral with
// a unique protected name, so it exists exactly while that leader session does. Versions: see storeVersion()
// in requests.ts — czxid and data version packed into one bigint; a key's data version is always >= 1 (create
// is create-empty + setData in the same multi, which also hands back the stat), so a znode at data version 0
// is only a parent directory and is not a key. Parent directories are created (persistent, empty) before a
// create, outside the multi, and removed again, fenced and only while still at version 0, when a remove leaves
// them empty (ZooKeeper 3.8 has container nodes, but this client cannot create them).
import { storeFencingEnabled } from "../test-switches.ts";
import type { Stat } from "node-zookeeper-client";
import {
  AlreadyExistsError,
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
import type { ZooKeeperConnection } from "./connection.ts";
import {
  CreateMode,
  commitMulti,
  dataVersion,
  type MultiOutcome,
  parentsBelow,
  storeVersion,
  ZkCode,
  type ZkOp,
  ZkResultError,
} from "./requests.ts";
import { ZooKeeperStoreWatch } from "./store-watch.ts";

/** jute.maxbuffer defaults to ~1 MiB per request; keep 64 KiB for the path, the other ops and framing. */
export const ZOOKEEPER_MAX_VALUE_BYTES = 1_048_576 - 65_536;

export class ZooKeeperStateHandleStore implements StateHandleStore {
  readonly maxValueBytes = ZOOKEEPER_MAX_VALUE_BYTES;

  constructor(
    private readonly conn: ZooKeeperConnection,
    private readonly root: string,
  ) {}

  async get(key: string): Promise<StoredEntry | undefined> {
    const path = this.path(key);
    try {
      const [data, stat] = await this.conn.read<[Buffer, Stat]>("getData", path, (c, done) =>
        c.getData(path, (e, d, s) => done(e, [d, s])),
      );
      return stat.version === 0
        ? undefined
        : { key, value: new Uint8Array(data), version: storeVersion(stat) };
    } catch (e: unknown) {
      if (e instanceof ZkResultError && e.zkCode === ZkCode.NO_NODE) return undefined;
      throw e;
    }
  }

  async list(dir: string): Promise<StoredEntry[]> {
    const path = this.path(dir);
    let names: string[];
    try {
      names = await this.conn.read<string[]>("getChildren", path, (c, done) => c.getChildren(path, done));
    } catch (e: unknown) {
      if (e instanceof ZkResultError && e.zkCode === ZkCode.NO_NODE) return [];
      throw e;
    }
    const entries = await Promise.all(names.map((n) => this.get(`${dir}/${n}`)));
    return entries
      .filter((e) => e !== undefined)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async create(key: string, value: Uint8Array, fence: LeaderSession): Promise<bigint> {
    assertFits(key, value, this.maxValueBytes, "ZooKeeper");
    const path = this.path(key);
    const data = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.write(key, fence, [
        { type: "create", path, data: Buffer.alloc(0), mode: CreateMode.PERSISTENT },
        { type: "setData", path, data, version: 0 },
      ]);
      // results[0] is the fence check.
      if (outcome.ok) return storeVersion(outcome.results[2]!.stat!);
      if (outcome.code === ZkCode.NO_NODE && attempt < 3) {
        // The parent is missing (first key in a directory, or cleaned up meanwhile): create it, outside the
        // multi (persistent empty parents are harmless), and try again.
        await this.conn.ensurePath(path.slice(0, path.lastIndexOf("/")));
        continue;
      }
      if (outcome.code !== ZkCode.NODE_EXISTS) throw this.unexpected(key, outcome);
      // A directory znode (version 0) is not a key yet: turn it into one.
      const turned = await this.write(key, fence, [{ type: "setData", path, data, version: 0 }]);
      if (turned.ok) return storeVersion(turned.results[1]!.stat!);
      if (turned.code === ZkCode.BAD_VERSION) throw new AlreadyExistsError(key);
      if (turned.code === ZkCode.NO_NODE && attempt < 3) continue;
      throw this.unexpected(key, turned);
    }
  }

  async replace(
    key: string,
    value: Uint8Array,
    expectedVersion: bigint,
    fence: LeaderSession,
  ): Promise<bigint> {
    assertFits(key, value, this.maxValueBytes, "ZooKeeper");
    const path = this.path(key);
    const data = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    const outcome = await this.write(key, fence, [
      { type: "setData", path, data, version: dataVersion(expectedVersion) },
    ]);
    // ZooKeeper compares the data version only: a key removed and re-created and then replaced back to the
    // same data version between the caller's read and this write would be taken for the one it read. Only the
    // (fenced) leader writes, so that needs the leader to race itself; accepted and documented.
    if (outcome.ok) return storeVersion(outcome.results[1]!.stat!);
    if (outcome.code === ZkCode.NO_NODE) throw new NotFoundError(key);
    if (outcome.code === ZkCode.BAD_VERSION) throw await this.conflict(key, expectedVersion);
    throw this.unexpected(key, outcome);
  }

  async remove(key: string, fence: LeaderSession, expectedVersion?: bigint): Promise<boolean> {
    const path = this.path(key);
    // Without an expected version: -1 (an empty directory znode would be removed too; it holds nothing).
    const version = expectedVersion === undefined ? -1 : dataVersion(expectedVersion);
    const outcome = await this.write(key, fence, [{ type: "remove", path, version }]);
    if (!outcome.ok) {
      if (outcome.code === ZkCode.NO_NODE) return false;
      if (outcome.code === ZkCode.BAD_VERSION) throw await this.conflict(key, expectedVersion ?? -1n);
      if (outcome.code === ZkCode.NOT_EMPTY) {
        throw new Error(`${key}: cannot remove: it has child keys (a znode with children cannot be deleted)`);
      }
      throw this.unexpected(key, outcome);
    }
    void this.removeEmptyParents(path, fence);
    return true;
  }

  watch(dir: string, onChange: (change: StoreChange) => void): Promise<StoreWatch> {
    const w = new ZooKeeperStoreWatch(this.conn, this.path(dir), dir, onChange);
    return w.start().then(() => w);
  }

  /** Sends check(fence) + `ops` as one multi; a failed check is StaleFenceError, other failures are returned. */
  private async write(key: string, fence: LeaderSession, ops: ZkOp[]): Promise<MultiOutcome> {
    fence.assertLeader();
    // With fencing switched off (tests only) the check is on "/", which always passes: results keep their places.
    const checked = storeFencingEnabled() ? fence.electionKey : "/";
    const all: ZkOp[] = [{ type: "check", path: checked, version: -1 }, ...ops];
    const outcome = await this.conn.write<MultiOutcome>("fenced write", this.path(key), (c, done) =>
      commitMulti(c, all, done),
    );
    if (!outcome.ok && outcome.index === 0) throw new StaleFenceError(fence.epoch, `write of ${key}`);
    return outcome;
  }

  private async conflict(key: string, expected: bigint): Promise<VersionConflictError> {
    const current = await this.get(key).catch(() => undefined);
    return new VersionConflictError(key, expected, current?.version);
  }

  private unexpected(key: string, outcome: MultiOutcome): Error {
    return outcome.ok
      ? new Error(`${key}: unexpected success`)
      : new ZkResultError(outcome.code, this.path(key));
  }

  /**
   * Best effort, in the background: deletes parents left empty, deepest first, fenced and only directory znodes
   * (version 0). A create racing with it finds its parent gone and creates it again.
   */
  private async removeEmptyParents(path: string, fence: LeaderSession): Promise<void> {
    for (const parent of parentsBelow(this.root, path).reverse()) {
      try {
        const outcome = await this.conn.write<MultiOutcome>("remove empty parent", parent, (c, done) =>
          commitMulti(
            c,
            [
              { type: "check", path: fence.electionKey, version: -1 },
              { type: "remove", path: parent, version: 0 },
            ],
            done,
          ),
        );
        if (!outcome.ok) return; // NOT_EMPTY, a key (version > 0), gone, or fenced: stop climbing.
      } catch {
        return;
      }
    }
  }

  private path(key: string): string {
    if (key === "" || key.startsWith("/") || key.endsWith("/") || key.includes("//")) {
      throw new Error(`store key ${JSON.stringify(key)} is invalid: use a relative path like "jobgraphs/j1"`);
    }
    return `${this.root}/${key}`;
  }
}
