// How one request travels: the timed wrapper around every library call, and requests that
// node-zookeeper-client 1.1.3 does not offer, serialised by hand and queued through its internals.
//
// Hand-built requests (pinned at 1.1.3): the request is queued on the client's ConnectionManager with a
// hand-serialised frame; right after serialising, the header's type is switched to DELETE. The library keeps
// that header in its pending queue and parses the reply by its type: for DELETE it reads no body (the frame is
// cut by its length prefix, so a body the library did not read is dropped safely), and error codes become
// Exceptions as for any request. An opcode it does not know would make it drop the connection.
import type { Client } from "node-zookeeper-client";
import { monotonicNow } from "../../common/clock.ts";
import { BackendUnavailableError, PossiblyInconsistentStateError } from "../../common/errors.ts";
import { ZkCode, ZkResultError, zkCode } from "./requests.ts";

const OP_SYNC = 9;
const OP_DELETE = 2;

// Error codes that only a live server answers with: the request reached a session that was alive.
const ANSWERED = new Set<number>([ZkCode.NO_NODE, ZkCode.NODE_EXISTS, ZkCode.BAD_VERSION, ZkCode.NOT_EMPTY]);

interface Internals {
  connectionManager: {
    queue(request: unknown, callback: (error: unknown) => void): void;
    watcherManager: { emit(event: { type: number; path: string }): void };
  };
}

/** The library's ConnectionManager; throws when its internals are not the ones of 1.1.3. */
export function libraryInternals(client: Client): Internals["connectionManager"] {
  const cm = (client as unknown as Partial<Internals>).connectionManager;
  if (!cm || typeof cm.queue !== "function" || typeof cm.watcherManager?.emit !== "function") {
    throw new Error("node-zookeeper-client internals changed: hand-built requests need version 1.1.3");
  }
  return cm;
}

/** Queues request `opcode` with a hand-serialised `body`; the reply's body (if any) is not read. */
export function queueHandBuilt(
  client: Client,
  opcode: number,
  body: Buffer,
  done: (error: unknown) => void,
): void {
  const header = { xid: 0, type: opcode };
  const request = {
    header,
    payload: null,
    toBuffer(): Buffer {
      const buf = Buffer.alloc(4 + 8 + body.length);
      buf.writeInt32BE(buf.length - 4, 0);
      buf.writeInt32BE(header.xid, 4); // assigned by the library just before it serialises
      buf.writeInt32BE(opcode, 8);
      body.copy(buf, 12);
      header.type = OP_DELETE;
      return buf;
    },
  };
  libraryInternals(client).queue(request, done);
}

/** A jute ustring: int32 length, then UTF-8 bytes. */
export function ustring(s: string): Buffer {
  const bytes = Buffer.from(s, "utf8");
  const buf = Buffer.alloc(4 + bytes.length);
  buf.writeInt32BE(bytes.length, 0);
  bytes.copy(buf, 4);
  return buf;
}

/**
 * ZooKeeper `sync(path)` (opcode 9; request and reply bodies: the path). Unlike reads, which the server the
 * client is connected to answers from its local copy — a follower cut off from the ZooKeeper leader keeps
 * answering them for up to syncLimit × tickTime — a sync is forwarded to the leader and answered only after
 * the leader processed it (the leader checks that the session is still open). An answered sync is thus a
 * proof of life that a partitioned follower cannot fake.
 */
export function sync(client: Client, path: string, done: (error: unknown) => void): void {
  queueHandBuilt(client, OP_SYNC, ustring(path), done);
}

export interface TimedRequest {
  readonly kind: "read" | "write";
  /** The operation, for messages ("create latch"). */
  readonly what: string;
  readonly path: string;
  /** The request timeout, for messages. */
  readonly timeoutMs: number;
  /** What is left of it (waiting for a connection used the rest). */
  readonly remainingMs: number;
  /** The endpoints, for messages. */
  readonly where: string;
}

/**
 * Runs one library call with a timeout and maps its outcome: a read that is not answered in time is a
 * BackendUnavailableError; a write that was sent and not answered (timeout, connection loss) a
 * PossiblyInconsistentStateError; a server error code a ZkResultError. `onAnswered(sentAt)` runs when the
 * server answered (OK, or an error code only a live session gets, such as NO_NODE).
 */
export function timedCall<T>(
  client: Client,
  request: TimedRequest,
  call: (client: Client, done: (e: unknown, v?: T) => void) => void,
  onAnswered: (sentAt: number) => void,
): Promise<T> {
  const { kind, what, path, timeoutMs } = request;
  const unavailable = (detail: string, cause?: unknown): BackendUnavailableError =>
    new BackendUnavailableError(`ZooKeeper ${what} ${path} at ${request.where}: ${detail}`, cause);
  const sentAt = monotonicNow();
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(
      () => {
        if (settled) return;
        settled = true;
        const msg = `no answer within ${timeoutMs} ms`;
        reject(
          kind === "read" ? unavailable(msg) : new PossiblyInconsistentStateError(what, path, new Error(msg)),
        );
      },
      Math.max(1, request.remainingMs),
    );
    try {
      call(client, (e, v) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const code = zkCode(e);
        if (e === null || e === undefined || (code !== undefined && ANSWERED.has(code))) onAnswered(sentAt);
        if (e === null || e === undefined) resolve(v as T);
        else if (code === ZkCode.CONNECTION_LOSS && kind === "write")
          reject(new PossiblyInconsistentStateError(what, path, e));
        else if (code === ZkCode.CONNECTION_LOSS || code === ZkCode.SESSION_EXPIRED || code === undefined)
          reject(unavailable(e instanceof Error ? e.message : String(e), e));
        else reject(new ZkResultError(code, path, e));
      });
    } catch (e: unknown) {
      // The library asserts on arguments synchronously (e.g. data over 1 MB): nothing was sent.
      settled = true;
      clearTimeout(timer);
      reject(unavailable(e instanceof Error ? e.message : String(e), e));
    }
  });
}
