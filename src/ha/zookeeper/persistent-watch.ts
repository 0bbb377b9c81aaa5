// Persistent recursive watches (ZooKeeper 3.6+ `addWatch`), which node-zookeeper-client 1.1.3 does not
// offer. Classic one-shot watches lose changes that happen between a notification and the re-read (a key
// created, replaced and removed in quick succession is seen as nothing at all); a persistent recursive watch
// delivers every NodeCreated / NodeDataChanged / NodeDeleted below a path, in order, without re-arming.
//
// How, through the library's internals (pinned at 1.1.3):
//   - the request is a hand-built one (round-trips.ts: opcode 106, its reply parsed like a delete's);
//   - notifications arrive through WatcherManager.emit, which only knows one-shot watchers: we wrap it to
//     also hand every event to our dispatcher.
// The library's SetWatches on reconnect does not carry persistent watches, so the owner re-adds them after
// every reconnect and new session (connection.ts), and watchers report "resync" for the gap.
import type { Client } from "node-zookeeper-client";
import { libraryInternals, queueHandBuilt, ustring } from "./round-trips.ts";

const OP_ADD_WATCH = 106;
const OP_REMOVE_WATCHES = 18;
const ADD_WATCH_MODE_PERSISTENT_RECURSIVE = 1;
const WATCHER_TYPE_PERSISTENT_RECURSIVE = 5;

/** Queues a request `opcode(path, int)` whose reply carries no body. */
function queuePathIntRequest(
  client: Client,
  opcode: number,
  path: string,
  value: number,
  done: (error: unknown) => void,
): void {
  const p = ustring(path);
  const body = Buffer.alloc(p.length + 4);
  p.copy(body, 0);
  body.writeInt32BE(value, p.length);
  queueHandBuilt(client, opcode, body, done);
}

/** Adds a persistent recursive watch on `path` (which need not exist). */
export function addRecursiveWatch(client: Client, path: string, done: (error: unknown) => void): void {
  queuePathIntRequest(client, OP_ADD_WATCH, path, ADD_WATCH_MODE_PERSISTENT_RECURSIVE, done);
}

/** Removes this client's persistent recursive watch on `path`. */
export function removeRecursiveWatch(client: Client, path: string, done: (error: unknown) => void): void {
  queuePathIntRequest(client, OP_REMOVE_WATCHES, path, WATCHER_TYPE_PERSISTENT_RECURSIVE, done);
}

/** Hands every watch notification of `client` to `dispatch` as well as to the library's own watchers. */
export function interceptNotifications(client: Client, dispatch: (type: number, path: string) => void): void {
  const wm = libraryInternals(client).watcherManager;
  const original = wm.emit.bind(wm);
  wm.emit = (event) => {
    dispatch(event.type, event.path);
    original(event);
  };
}

/**
 * The persistent recursive watches of one connection (connection.ts), by root path: each root's listeners get
 * every notification at or below it; the connection adds them all again after every connect.
 */
export class RecursiveWatches {
  private readonly byRoot = new Map<string, Set<(type: number, path: string) => void>>();

  /**
   * Adds `listener` for `path`; returns the function that removes it, which calls `onLast` once no listener of
   * `path` is left (remove the server's watch then).
   */
  add(path: string, listener: (type: number, path: string) => void, onLast: () => void): () => void {
    let listeners = this.byRoot.get(path);
    if (!listeners) {
      listeners = new Set();
      this.byRoot.set(path, listeners);
    }
    const all = listeners;
    all.add(listener);
    return (): void => {
      all.delete(listener);
      if (all.size > 0 || this.byRoot.get(path) !== all) return;
      this.byRoot.delete(path);
      onLast();
    };
  }

  /** Hands a notification about `path` to the listeners of every root at or above it. */
  dispatch(type: number, path: string): void {
    for (const [root, listeners] of this.byRoot) {
      if (path !== root && !path.startsWith(`${root}/`)) continue;
      for (const l of [...listeners]) l(type, path);
    }
  }

  /** Adds every root's watch on `client` (again). */
  addAll(client: Client): void {
    for (const path of this.byRoot.keys()) addRecursiveWatch(client, path, () => {});
  }
}
