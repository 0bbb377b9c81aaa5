// An in-process stand-in for etcd: revisions, sessions with a TTL, atomic compare-and-write transactions and
// prefix watches. It serves unit tests of the generic logic and vigil's no-HA standalone mode. It proves
// nothing about a real backend; the ha-tests suites do that.
import { monotonicNow } from "../../common/clock.ts";

export interface MemoryEntry {
  readonly key: string;
  readonly value: Uint8Array;
  readonly createRevision: bigint;
  readonly modRevision: bigint;
  /** The session the key lives and dies with (ephemeral), if any. */
  readonly session: number | undefined;
}

/** createRevision/modRevision of `key` equals `equals` (0n = the key is absent). */
export interface MemoryCompare {
  readonly key: string;
  readonly target: "create" | "mod";
  readonly equals: bigint;
}

export type MemoryOp =
  | { readonly type: "put"; readonly key: string; readonly value: Uint8Array; readonly session?: number }
  | { readonly type: "delete"; readonly key: string };

export interface MemoryEvent {
  readonly type: "put" | "delete";
  readonly key: string;
  readonly revision: bigint;
}

interface SessionState {
  readonly ttlMs: number;
  expiresAt: number;
  timer: NodeJS.Timeout;
}

export class MemoryCoordinator {
  private revision = 0n;
  private nextSession = 1;
  private readonly entries = new Map<string, MemoryEntry>();
  private readonly sessions = new Map<number, SessionState>();
  private readonly watchers = new Set<{ prefix: string; cb: (e: MemoryEvent) => void }>();

  /** Opens a session that expires `ttlMs` after its last keepalive. */
  openSession(ttlMs: number): number {
    const id = this.nextSession++;
    const state: SessionState = {
      ttlMs,
      expiresAt: monotonicNow() + ttlMs,
      timer: this.expiryTimer(id, ttlMs),
    };
    this.sessions.set(id, state);
    return id;
  }

  /** Refreshes the session's TTL; false when it has already expired. */
  keepAlive(id: number): boolean {
    const s = this.sessions.get(id);
    if (!s) return false;
    clearTimeout(s.timer);
    s.expiresAt = monotonicNow() + s.ttlMs;
    s.timer = this.expiryTimer(id, s.ttlMs);
    return true;
  }

  isAlive(id: number): boolean {
    return this.sessions.has(id);
  }

  /** Ends the session now and deletes its ephemeral keys, like a lease revoke / session close. */
  expireSession(id: number): void {
    const s = this.sessions.get(id);
    if (!s) return;
    clearTimeout(s.timer);
    this.sessions.delete(id);
    for (const e of [...this.entries.values()]) {
      if (e.session === id) this.apply({ type: "delete", key: e.key });
    }
  }

  get(key: string): MemoryEntry | undefined {
    return this.entries.get(key);
  }

  /** Every entry whose key starts with `prefix`, sorted by key. */
  range(prefix: string): MemoryEntry[] {
    return [...this.entries.values()]
      .filter((e) => e.key.startsWith(prefix))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  /** Applies `ops` atomically when every compare holds; otherwise changes nothing. */
  txn(compares: readonly MemoryCompare[], ops: readonly MemoryOp[]): boolean {
    for (const c of compares) {
      const e = this.entries.get(c.key);
      const actual = e ? (c.target === "create" ? e.createRevision : e.modRevision) : 0n;
      if (actual !== c.equals) return false;
    }
    for (const op of ops) {
      if (op.type === "put" && op.session !== undefined && !this.sessions.has(op.session)) return false;
    }
    for (const op of ops) this.apply(op);
    return true;
  }

  get currentRevision(): bigint {
    return this.revision;
  }

  /** Calls `cb` for every later change of a key under `prefix`; returns the unsubscribe function. */
  watch(prefix: string, cb: (e: MemoryEvent) => void): () => void {
    const w = { prefix, cb };
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }

  /** Expires every session and clears all timers (test teardown). */
  close(): void {
    for (const id of [...this.sessions.keys()]) this.expireSession(id);
  }

  private apply(op: MemoryOp): void {
    this.revision += 1n;
    const rev = this.revision;
    if (op.type === "put") {
      const old = this.entries.get(op.key);
      this.entries.set(op.key, {
        key: op.key,
        value: op.value,
        createRevision: old ? old.createRevision : rev,
        modRevision: rev,
        session: op.session,
      });
    } else if (!this.entries.delete(op.key)) {
      this.revision -= 1n;
      return;
    }
    const event: MemoryEvent = { type: op.type, key: op.key, revision: rev };
    // Deliver asynchronously, as a real backend would: a watcher never runs inside the writer's call.
    for (const w of this.watchers) {
      if (op.key.startsWith(w.prefix)) queueMicrotask(() => this.watchers.has(w) && w.cb(event));
    }
  }

  private expiryTimer(id: number, ttlMs: number): NodeJS.Timeout {
    const t = setTimeout(() => this.expireSession(id), ttlMs);
    t.unref();
    return t;
  }
}
