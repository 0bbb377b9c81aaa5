// Persistent recursive watches (ZooKeeper 3.6+ `addWatch`), which node-zookeeper-client 1.1.3 does not
// offer. Classic one-shot watches lose changes that happen between a notification and the re-read (a key
// created, replaced and removed in quick succession is seen as nothing at all); a persistent recursive watch
// delivers every NodeCreated / NodeDataChanged / NodeDeleted below a path, in order, without re-arming.
//
// How, through the library's internals (pinned at 1.1.3):
//   - the request is queued on the client's ConnectionManager with a hand-serialised body (opcode 106);
//     after serialising, the header's type is switched to DELETE so that the library parses the (empty) reply
//     like a delete's instead of dropping the connection on an opcode it does not know;
//   - notifications arrive through WatcherManager.emit, which only knows one-shot watchers: we wrap it to
//     also hand every event to our dispatcher.
// The library's SetWatches on reconnect does not carry persistent watches, so the owner re-adds them after
// every reconnect and new session (connection.ts), and watchers report "resync" for the gap.
import type { Client } from "node-zookeeper-client";

const OP_ADD_WATCH = 106;
const OP_REMOVE_WATCHES = 18;
const OP_DELETE = 2;
const ADD_WATCH_MODE_PERSISTENT_RECURSIVE = 1;
const WATCHER_TYPE_PERSISTENT_RECURSIVE = 5;

interface Internals {
  connectionManager: {
    queue(request: unknown, callback: (error: unknown) => void): void;
    watcherManager: { emit(event: { type: number; path: string }): void };
  };
}

function internals(client: Client): Internals["connectionManager"] {
  const cm = (client as unknown as Partial<Internals>).connectionManager;
  if (!cm || typeof cm.queue !== "function" || typeof cm.watcherManager?.emit !== "function") {
    throw new Error("node-zookeeper-client internals changed: persistent watches need version 1.1.3");
  }
  return cm;
}

/** Queues a request `opcode(path, int)` whose reply carries no body. */
function queuePathIntRequest(
  client: Client,
  opcode: number,
  path: string,
  value: number,
  done: (error: unknown) => void,
): void {
  const header = { xid: 0, type: opcode };
  const request = {
    header,
    payload: null,
    toBuffer(): Buffer {
      const p = Buffer.from(path, "utf8");
      const buf = Buffer.alloc(4 + 8 + 4 + p.length + 4);
      buf.writeInt32BE(buf.length - 4, 0);
      buf.writeInt32BE(header.xid, 4); // assigned by the library just before it serialises
      buf.writeInt32BE(opcode, 8);
      buf.writeInt32BE(p.length, 12);
      p.copy(buf, 16);
      buf.writeInt32BE(value, 16 + p.length);
      header.type = OP_DELETE;
      return buf;
    },
  };
  internals(client).queue(request, done);
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
  const wm = internals(client).watcherManager;
  const original = wm.emit.bind(wm);
  wm.emit = (event) => {
    dispatch(event.type, event.path);
    original(event);
  };
}
