// The ZooKeeper election driver's own logic, on a scripted connection (the real server is in ha-tests/).
import { describe, expect, it } from "vitest";
import { monotonicNow, sleep } from "../../common/clock.ts";
import { silentLogger } from "../../common/logger.ts";
import { waitUntil } from "../testing.ts";
import type { SessionListener, ZooKeeperConnection } from "./connection.ts";
import { ZooKeeperElectionDriver } from "./election-driver.ts";
import { ZkCode, ZkResultError } from "./requests.ts";

const DIR = "/vigil/c/elections/e/latch";
type Callback<T> = (e: unknown, v?: T) => void;

/** A scripted server: latch children, and a switch that leaves the next getChildren unanswered. */
function scripted() {
  const state = { children: ["_c_other-1-latch-0000000000"], seq: 1, hangNext: false, getChildrenCalls: 0 };
  let hung: (() => void) | undefined;
  const czxid = (n: number): Buffer => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(n));
    return b;
  };
  const client = {
    getChildren(_p: string, cb: Callback<string[]>) {
      state.getChildrenCalls++;
      if (state.hangNext) {
        state.hangNext = false;
        hung = () => cb(null, ["stale answer"]);
        return;
      }
      cb(null, [...state.children]);
    },
    exists(p: string, _w: unknown, cb: Callback<unknown>) {
      const name = p.slice(p.lastIndexOf("/") + 1);
      const found = p.startsWith(DIR) && state.children.includes(name);
      cb(null, found ? { czxid: czxid(state.seq * 10), ephemeralOwner: Buffer.alloc(8) } : null);
    },
    getData(p: string, _w: unknown, cb: Callback<unknown>) {
      cb(new ZkResultError(ZkCode.NO_NODE, p));
    },
    create(p: string, _d: unknown, _m: unknown, cb: Callback<string>) {
      const name = p.slice(DIR.length + 1) + String(state.seq++).padStart(10, "0");
      state.children.push(name);
      cb(null, `${DIR}/${name}`);
    },
    remove(p: string, _v: number, cb: Callback<void>) {
      state.children = state.children.filter((n) => `${DIR}/${n}` !== p);
      cb(null);
    },
  };
  const listeners: SessionListener[] = [];
  const call = <T>(
    _what: string,
    _path: string,
    f: (c: typeof client, done: Callback<T>) => void,
  ): Promise<T> => new Promise((resolve, reject) => f(client, (e, v) => (e ? reject(e) : resolve(v as T))));
  const conn = {
    isOpen: true,
    sessionId: "00",
    get deadline() {
      return monotonicNow() + 60_000;
    },
    subscribe(l: SessionListener) {
      listeners.push(l);
      return () => {};
    },
    ensurePath: async () => {},
    read: call,
    write: call,
  } as unknown as ZooKeeperConnection;
  return { state, conn, listeners, release: () => hung?.() };
}

describe("ZooKeeper election driver", () => {
  it("a check stuck in an old session does not swallow the new session's campaign (review finding)", async () => {
    const s = scripted();
    const grants: string[] = [];
    const driver = new ZooKeeperElectionDriver(
      s.conn,
      "/vigil/c/elections/e",
      "/vigil/c/elections/e/leader",
      silentLogger,
    );
    await driver.start({
      onGrantLeadership: (session) => grants.push(session.electionKey),
      onRevokeLeadership: () => {},
      onLeaderInformationChange: () => {},
      onError: () => {},
    });
    await sleep(20);
    expect(grants).toEqual([]); // queued behind _c_other
    s.state.hangNext = true;
    s.listeners[0]!.onReconnected?.(); // a check starts; its read hangs on a frozen server
    await sleep(20);
    s.listeners[0]!.onSessionLost?.("presumed lost"); // the watchdog gives the session up
    s.state.children = s.state.children.filter((n) => !n.startsWith("_c_other")); // the old leader is gone too
    s.listeners[0]!.onNewSession?.(); // a new campaign registers and asks for a check…
    await sleep(20); // …while the old check still hangs
    s.release(); // the stuck read finally answers
    await waitUntil(() => grants.length > 0, 2_000, "the new campaign's grant");
    expect(grants[0]).toMatch(/-3-latch-0000000002$/);
    await driver.close();
  });
});
