// Small, typed pieces over node-zookeeper-client's callback API: error codes, multi-op transactions with their
// per-op results, czxid decoding and the store's version encoding. No timeouts here: connection.ts owns them.
import { type Client, CreateMode, Exception, type Stat, type Transaction } from "node-zookeeper-client";

export { CreateMode };

/** ZooKeeper error codes we act on (KeeperException.Code). */
export const ZkCode = {
  CONNECTION_LOSS: Exception.CONNECTION_LOSS,
  NO_NODE: Exception.NO_NODE,
  BAD_VERSION: Exception.BAD_VERSION,
  NODE_EXISTS: Exception.NODE_EXISTS,
  NOT_EMPTY: Exception.NOT_EMPTY,
  SESSION_EXPIRED: Exception.SESSION_EXPIRED,
} as const;

/** The ZooKeeper error code of a library error, or undefined for anything else. */
export function zkCode(e: unknown): number | undefined {
  if (e instanceof Exception) return e.getCode();
  return undefined;
}

/** A ZooKeeper answer with a non-OK code that the caller maps to its own errors. */
export class ZkResultError extends Error {
  constructor(
    readonly zkCode: number,
    readonly path: string,
    cause?: unknown,
  ) {
    super(`${path}: ZooKeeper error ${zkCode} (${codeName(zkCode)})`, { cause });
    this.name = "ZkResultError";
  }
}

export function codeName(code: number): string {
  for (const [name, value] of Object.entries(Exception)) if (value === code) return name;
  return "UNKNOWN";
}

export type ZkOp =
  | { readonly type: "check"; readonly path: string; readonly version: number }
  | { readonly type: "create"; readonly path: string; readonly data: Buffer; readonly mode: number }
  | { readonly type: "setData"; readonly path: string; readonly data: Buffer; readonly version: number }
  | { readonly type: "remove"; readonly path: string; readonly version: number };

export type MultiOutcome =
  | { readonly ok: true; readonly results: readonly OpResult[] }
  /** The transaction was refused: `index` is the op that failed, `code` its error; nothing was applied. */
  | { readonly ok: false; readonly index: number; readonly code: number };

export interface OpResult {
  readonly path?: string;
  readonly stat?: Stat;
}

interface RawResult {
  type: number;
  err?: number;
  path?: string;
  stat?: Stat;
}

/**
 * Sends `ops` as one multi. Quirk worked around: the library's Transaction turns version 0 into -1
 * (`version || -1`), which would make "replace if still at version 0" unconditional; we set versions on the
 * queued ops ourselves.
 */
export function commitMulti(
  client: Client,
  ops: readonly ZkOp[],
  done: (e: unknown, r?: MultiOutcome) => void,
): void {
  const tx = client.transaction();
  for (const op of ops) {
    if (op.type === "check") tx.check(op.path, op.version);
    else if (op.type === "create") tx.create(op.path, op.data, op.mode);
    else if (op.type === "setData") tx.setData(op.path, op.data, op.version);
    else tx.remove(op.path, op.version);
  }
  const queued = (tx as Transaction & { ops: Array<{ version?: number }> }).ops;
  ops.forEach((op, i) => {
    const q = queued[i];
    if (q && op.type !== "create") q.version = op.version;
  });
  tx.commit((error, results: unknown) => {
    const raw = Array.isArray(results) ? (results as RawResult[]) : undefined;
    if (error && !raw) {
      done(error);
      return;
    }
    const failed = raw?.findIndex((r) => r.err !== undefined && r.err !== 0) ?? -1;
    if (failed >= 0) {
      done(null, { ok: false, index: failed, code: raw![failed]!.err! });
      return;
    }
    if (error) {
      done(error);
      return;
    }
    done(null, {
      ok: true,
      results: (raw ?? []).map((r) => ({
        ...(r.path !== undefined && { path: r.path }),
        ...(r.stat && { stat: r.stat }),
      })),
    });
  });
}

/** A 64-bit zxid (8 bytes, big-endian) as bigint. */
export function zxid(buffer: Buffer): bigint {
  return buffer.readBigUInt64BE(0);
}

/**
 * The store's version of a znode: czxid in the high bits, the znode's data version in the low 32. Unique per
 * write (a re-created key has a new czxid) and increasing per key. Keys written by the store always have a data
 * version of at least 1 (create is create-empty + setData in one multi); version 0 marks a directory znode that
 * only exists as a parent.
 */
export function storeVersion(stat: Stat): bigint {
  return (zxid(stat.czxid) << 32n) | BigInt(stat.version);
}

/** The znode data version inside a store version. */
export function dataVersion(version: bigint): number {
  return Number(version & 0xffff_ffffn);
}

/** The czxid inside a store version. */
export function czxidOf(version: bigint): bigint {
  return version >> 32n;
}

/** Parent paths of `path` below (not including) `root`, shallowest first. */
export function parentsBelow(root: string, path: string): string[] {
  const out: string[] = [];
  let p = path.slice(0, path.lastIndexOf("/"));
  while (p.length > root.length && p.startsWith(root + "/")) {
    out.unshift(p);
    p = p.slice(0, p.lastIndexOf("/"));
  }
  return out;
}
