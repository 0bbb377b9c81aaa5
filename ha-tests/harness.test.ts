// The integration-test harness itself: real etcd and ZooKeeper clusters serve real client requests,
// survive the loss of a member, freeze and thaw, restart on their data, and leave nothing behind; vigil
// child processes become event logs; stray servers of dead test processes are reaped safely.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Client } from "node-zookeeper-client";
import { afterEach, describe, expect, it } from "vitest";
import { clusterRoles, HarnessCluster, inspectCluster } from "../src/local/cluster.ts";
import { Member } from "../src/local/member.ts";
import { isSameProcess, startTimeOf, stateOf } from "../src/local/proc.ts";
import { RECORD_DIR, type RecordFile, Registration, TEMP_PREFIX } from "../src/local/registry.ts";
import { reapStale } from "../src/local/stale.ts";
import { etcdClient, zkConnect, zkCreate, zkGet } from "./harness/clients.ts";
import { spawnVigil, type VigilProcess } from "./harness/processes.ts";
import { type ServerCluster, startEtcd, startZooKeeper } from "./harness/servers.ts";

const ECHO = fileURLToPath(new URL("./harness/fixtures/echo.ts", import.meta.url));

// Everything a test opens is closed here even when it fails half-way.
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
function own<T extends { stop(): Promise<void> } | { close(): unknown }>(x: T): T {
  cleanups.push(async () => {
    if ("stop" in x) await x.stop();
    else await x.close();
  });
  return x;
}

/** After stop(): no member process and no temp dir of this cluster remain. */
async function expectGone(cluster: ServerCluster): Promise<void> {
  const { dir, pids } = inspectCluster(cluster);
  const starts = pids.map((p) => (p === undefined ? undefined : startTimeOf(p)));
  await cluster.stop();
  await cluster.stop(); // Idempotent.
  pids.forEach((pid, i) => {
    if (pid !== undefined) expect(isSameProcess(pid, starts[i], dir)).toBe(false);
  });
  expect(existsSync(dir)).toBe(false);
}

/** True when `p` is still unsettled once `other` has settled: ordering, not a sleep, decides. */
async function stillPendingAfter<T>(p: Promise<T>, other: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await other;
  return !settled;
}

describe("etcd", () => {
  it("one member: serves, freezes, restarts on its data, cleans up", async () => {
    const etcd = own(await startEtcd());
    expect(etcd.endpoints).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+$/)]);
    const c = own(etcdClient(etcd));
    await c.put("k").value("v1");
    expect(await c.get("k").string()).toBe("v1");

    const [pid] = inspectCluster(etcd).pids;
    etcd.pause(0);
    expect(stateOf(pid)).toBe("T");
    const pending = c.get("k").string();
    // A request to a frozen server hangs rather than failing: that is what pause() is for.
    const verdict = etcd.waitHealthy(300).then(
      () => "serving",
      () => "not serving",
    );
    expect(await stillPendingAfter(pending, verdict)).toBe(true);
    expect(await verdict).toBe("not serving");
    etcd.resume(0);
    expect(await pending).toBe("v1");

    await etcd.kill(0);
    expect(startTimeOf(pid!)).toBeUndefined();
    await etcd.restart(0);
    expect(await c.get("k").string()).toBe("v1");
    await expectGone(etcd);
  });

  it("three members: survive a kill, a frozen member lags, a restarted member catches up", async () => {
    const etcd = own(await startEtcd({ members: 3 }));
    expect(etcd.size).toBe(3);
    const all = own(etcdClient(etcd));
    await all.put("a").value("1");
    for (const i of [0, 1, 2]) {
      const single = own(etcdClient(etcd, [i]));
      expect(await single.get("a").string()).toBe("1");
    }

    await etcd.kill(1);
    await etcd.waitHealthy(5_000);
    const survivors = own(etcdClient(etcd, [0, 2]));
    await survivors.put("b").value("2");
    expect(await survivors.get("b").string()).toBe("2");

    await etcd.restart(1);
    // Only member 1 is asked: it kept "a" on disk and replicated "b" written while it was down.
    const one = own(etcdClient(etcd, [1]));
    expect(await one.get("a").string()).toBe("1");
    expect(await one.get("b").string()).toBe("2");

    etcd.pause(2);
    const onFrozen = own(etcdClient(etcd, [2]));
    const frozen = onFrozen.get("b").string();
    // Members 0 and 1 still make a quorum (etcd3 would also try the frozen member if it were listed).
    const live = own(etcdClient(etcd, [0, 1]));
    expect(await stillPendingAfter(frozen, live.put("c").value("3").exec())).toBe(true);
    etcd.resume(2);
    expect(await frozen).toBe("2");
    await expectGone(etcd);
  });
});

describe("zookeeper", () => {
  it("standalone: serves, freezes, restarts on its data, cleans up", async () => {
    const zk = own(await startZooKeeper({ servers: 1, tickTimeMs: 500 }));
    const c = own(await zkConnect(zk));
    await zkCreate(c, "/k", "v1");
    expect(await zkGet(c, "/k")).toBe("v1");

    const [pid] = inspectCluster(zk).pids;
    zk.pause(0);
    expect(stateOf(pid)).toBe("T");
    const pending = zkGet(c, "/k");
    const verdict = zk.waitHealthy(300).then(
      () => "serving",
      () => "not serving",
    );
    expect(await stillPendingAfter(pending, verdict)).toBe(true);
    expect(await verdict).toBe("not serving");
    zk.resume(0);
    expect(await pending).toBe("v1");

    await zk.kill(0);
    expect(startTimeOf(pid!)).toBeUndefined();
    await zk.restart(0);
    expect(await zkGet(own(await zkConnect(zk)), "/k")).toBe("v1");
    await expectGone(zk);
  });

  it("ensemble: survives a kill, a frozen server lags, a restarted server catches up", async () => {
    const zk = own(await startZooKeeper({ servers: 3 }));
    const all: Client = own(await zkConnect(zk));
    await zkCreate(all, "/a", "1");

    await zk.kill(0);
    await zk.waitHealthy(10_000);
    const survivors = own(await zkConnect(zk, [1, 2]));
    await zkCreate(survivors, "/b", "2");
    expect(await zkGet(survivors, "/a")).toBe("1");

    await zk.restart(0);
    const zero = own(await zkConnect(zk, [0]));
    expect(await zkGet(zero, "/a")).toBe("1");
    expect(await zkGet(zero, "/b")).toBe("2");

    // Freeze a follower: with the leader frozen nothing commits until the followers give up on it.
    const roles = await clusterRoles(zk);
    expect(roles.filter((r) => r === "leader")).toHaveLength(1);
    const follower = roles.indexOf("follower");
    const other = roles.indexOf("leader");
    expect(follower).toBeGreaterThanOrEqual(0);
    const onFollower = own(await zkConnect(zk, [follower]));
    const onOther = own(await zkConnect(zk, [other]));
    zk.pause(follower);
    expect(stateOf(inspectCluster(zk).pids[follower])).toBe("T");
    const frozen = zkGet(onFollower, "/b");
    expect(await stillPendingAfter(frozen, zkCreate(onOther, "/c", "3"))).toBe(true);
    zk.resume(follower);
    expect(await frozen).toBe("2");
    await expectGone(zk);
  });
});

describe("cluster start-up failures", () => {
  it("fail fast with the member's log when a member exits", async () => {
    const registration = new Registration("failing test member");
    const dir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    registration.addDir(dir);
    const member = new Member(
      {
        command: "/bin/sh",
        args: ["-c", "echo bind: address already in use; exit 2"],
        cwd: dir,
        outFile: join(dir, "out.log"),
        marker: dir,
      },
      registration,
    );
    const cluster = own(
      new HarnessCluster({
        kind: "etcd",
        endpoints: ["127.0.0.1:1"],
        members: [member],
        registration,
        dir,
        probe: async () => undefined,
      }),
    );
    const started = Date.now();
    await expect(cluster.startAll(20_000)).rejects.toThrow(
      /member 0 exited \(code 2[\s\S]*address already in use/,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    await cluster.stop();
    expect(existsSync(dir)).toBe(false);
  });
});

describe("spawnVigil", () => {
  const procs: VigilProcess[] = [];
  afterEach(async () => {
    for (const p of procs.splice(0)) {
      p.kill();
      await p.exited();
    }
  });
  const echo = (...args: string[]): VigilProcess => {
    const p = spawnVigil(args, { script: ECHO });
    procs.push(p);
    return p;
  };

  it("parses JSON lines into events and waits for past and future ones", async () => {
    const p = echo("3");
    const ready = await p.waitForEvent((e) => e["event"] === "ready");
    expect(ready["pid"]).toBe(p.pid);
    expect(p.events.map((e) => e["event"])).toEqual(["tick", "tick", "tick", "ready"]);
    // Past events match at once; the index lets a caller look only past a point.
    expect(await p.waitForEvent((e) => e["i"] === 1)).toEqual({ event: "tick", i: 1 });
    const afterReady = p.waitForEvent((e, i) => i > 3 && e["event"] === "stopping");
    p.kill("SIGTERM");
    expect(await afterReady).toEqual({ event: "stopping" });
    expect(await p.exited()).toEqual({ code: 0, signal: null });
    expect(p.stderr()).toContain("echo fixture on stderr");
  });

  it("rejects with stderr when the process exits first or time runs out", async () => {
    const quitter = echo("1", "--exit-after");
    await expect(quitter.waitForEvent((e) => e["event"] === "ready")).rejects.toThrow(
      /exited before a matching event \(exit code 3[\s\S]*echo fixture on stderr/,
    );
    const waiter = echo("0");
    await waiter.waitForEvent((e) => e["event"] === "ready");
    await expect(waiter.waitForEvent((e) => e["event"] === "never", 100)).rejects.toThrow(/within 100 ms/);
  });

  it("pauses, resumes and SIGKILLs", async () => {
    const p = echo("0");
    await p.waitForEvent((e) => e["event"] === "ready");
    p.pause();
    await expect.poll(() => stateOf(p.pid)).toBe("T");
    p.resume();
    await expect.poll(() => stateOf(p.pid)).not.toBe("T");
    p.kill();
    expect(await p.exited()).toEqual({ code: null, signal: "SIGKILL" });
    p.kill(); // After exit: a no-op, never a signal to a reused PID.
  });
});

describe("stale cleanup", () => {
  /** A process whose command line names `dir`, as a leaked server's would. */
  function fakeServer(dir: string): number {
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 60_000)", dir], {
      detached: true,
      stdio: "ignore",
    });
    child.unref();
    cleanups.push(() => {
      if (isSameProcess(child.pid!, undefined, dir)) process.kill(child.pid!, "SIGKILL");
    });
    return child.pid!;
  }
  function writeRecord(record: RecordFile): string {
    mkdirSync(RECORD_DIR, { recursive: true });
    const file = join(RECORD_DIR, `test-${record.owner}-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(record));
    return file;
  }

  it("kills servers of dead owners, spares reused PIDs and live owners", async () => {
    // A dead owner: a process that has exited (its PID is not reused within this test).
    const gone = spawn(process.execPath, ["-e", ""]);
    await new Promise((r) => gone.once("exit", r));
    const orphanDir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    const orphan = fakeServer(orphanDir);
    const reusedDir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    const reused = fakeServer(reusedDir);
    const liveDir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    const liveServer = fakeServer(liveDir);
    const base = { owner: gone.pid!, ownerStartTime: "1", runId: undefined, label: "test" };
    const orphanFile = writeRecord({
      ...base,
      pids: [{ pid: orphan, startTime: startTimeOf(orphan), marker: orphanDir }],
      dirs: [orphanDir],
    });
    // Same PID, other start time: a different process now, which must survive.
    const reusedFile = writeRecord({
      ...base,
      pids: [{ pid: reused, startTime: "0", marker: reusedDir }],
      dirs: [],
    });
    const liveFile = writeRecord({
      ...base,
      owner: process.pid,
      ownerStartTime: startTimeOf(process.pid),
      pids: [{ pid: liveServer, startTime: startTimeOf(liveServer), marker: liveDir }],
      dirs: [liveDir],
    });

    expect(await reapStale()).toBeGreaterThanOrEqual(2);
    expect(isSameProcess(orphan, undefined, orphanDir)).toBe(false);
    expect(existsSync(orphanDir)).toBe(false);
    expect(existsSync(orphanFile)).toBe(false);
    expect(existsSync(reusedFile)).toBe(false);
    expect(isSameProcess(reused, undefined, reusedDir)).toBe(true);
    expect(isSameProcess(liveServer, undefined, liveDir)).toBe(true);
    expect(existsSync(liveDir)).toBe(true);
    expect(existsSync(liveFile)).toBe(true);
    cleanups.push(() => {
      for (const path of [liveFile, liveDir, reusedDir]) rmSync(path, { recursive: true, force: true });
    });
  });
});
