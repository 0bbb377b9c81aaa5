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
