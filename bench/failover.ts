// The handover loop, the same for every contestant (vigil, etcd3's Election, etcdctl lock, the ZooKeeper
// recipe): keep two contenders alive; wait until one leads and the other is queued behind it; signal the
// leader (SIGKILL for failover, SIGTERM for graceful handover); measure from the signal to the standby's
// grant line; start a fresh contender so there are two again; repeat.
import { setTimeout as sleep } from "node:timers/promises";
import type { Child, LinePredicate } from "./children.ts";

export interface Contestant {
  /** Row label, e.g. "vigil elect". */
  readonly label: string;
  readonly backend: "etcd" | "zookeeper";
  /** Starts a new contender process named `name`. */
  spawn(name: string): Child;
  /** The line a contender prints when it becomes leader. */
  readonly isGrant: LinePredicate;
  /** How many contenders the coordinator holds in this contestant's queue (campaign keys / latch nodes). */
  queued(): Promise<number>;
}

export interface HandoverOptions {
  readonly rounds: number;
  readonly signal: "SIGKILL" | "SIGTERM";
  /** Prefix of progress lines, e.g. "etcd vigil kill". */
  readonly progressLabel: string;
  readonly progress: (line: string) => void;
  /** Bound on one handover; past it the round fails (and the run stops). */
  readonly timeoutMs: number;
}

export interface HandoverResult {
  /** Handover times in ms, one per round. */
  readonly samples: number[];
  /** Things that should not happen (an error line, a resigning leader that did not exit cleanly, …). */
  readonly anomalies: string[];
  /** Why the loop stopped early, if it did; `samples` then holds the rounds completed before. */
  readonly error?: string;
}

const START_TIMEOUT_MS = 20_000;

export async function measureHandovers(c: Contestant, o: HandoverOptions): Promise<HandoverResult> {
  const samples: number[] = [];
  const anomalies: string[] = [];
  const spawned: Child[] = [];
  const next = (): Child => {
    const child = c.spawn(`c${spawned.length + 1}`);
    spawned.push(child);
    return child;
  };
  let leader = next();
  let standby: Child | undefined;
  let error: string | undefined;
  try {
    await leader.waitForLine(c.isGrant, START_TIMEOUT_MS, "first grant");
    standby = next();
    await waitQueued(c, standby, 2);
    for (let round = 1; round <= o.rounds; round++) {
      const waiting = standby;
      if (!waiting) throw new Error(`${c.label}: no standby`);
      // A random pause, so that the signal lands at a random phase of the leader's keepalive cycle (every
      // TTL/3 in etcd3, a third of the session timeout in node-zookeeper-client) rather than at a fixed one.
      await sleep(200 + Math.random() * 700);
      if (waiting.find(c.isGrant))
        throw new Error(`${c.label}: the standby was granted before the leader was signalled`);
      const from = waiting.lines.length;
      const killedAt = leader.kill(o.signal);
      const grant = await waiting.waitForLine(c.isGrant, o.timeoutMs, `grant after ${o.signal}`, from);
      const ms = grant.at - killedAt;
      samples.push(ms);
      o.progress(`${o.progressLabel} ${round}/${o.rounds}: ${(ms / 1000).toFixed(3)} s`);
      const exit = await leader.exited();
      if (o.signal === "SIGTERM" && exit !== "exited with code 0") {
        anomalies.push(`round ${round}: the resigning leader ${exit}`);
      }
      leader = waiting;
      standby = undefined;
      if (round < o.rounds) {
        standby = next();
        await waitQueued(c, standby, 2);
      }
    }
  } catch (e: unknown) {
    error = e instanceof Error ? e.message : String(e);
  } finally {
    await stopAll([leader, ...(standby ? [standby] : [])]);
  }
  for (const child of spawned) {
    for (const line of child.lines) {
      if (line.json?.["event"] === "error") anomalies.push(`${child.label}: ${line.text}`);
    }
  }
  return error === undefined ? { samples, anomalies } : { samples, anomalies, error };
}

/** Waits until the coordinator holds `n` contenders of this contestant, the newest being `child`. */
async function waitQueued(c: Contestant, child: Child, n: number): Promise<void> {
  const until = Date.now() + START_TIMEOUT_MS;
  while ((await c.queued()) < n) {
    if (!child.alive)
      throw new Error(`${child.label} (pid ${child.pid}) ${await child.exited()} while starting`);
    if (Date.now() > until)
      throw new Error(`${c.label}: ${child.label} not queued within ${START_TIMEOUT_MS} ms`);
    await sleep(20);
  }
}

/** SIGTERM (resign), then SIGKILL whatever is still alive after 3 s. */
export async function stopAll(children: readonly Child[]): Promise<void> {
  for (const ch of children) ch.kill("SIGTERM");
  await Promise.race([Promise.all(children.map((ch) => ch.exited())), sleep(3_000)]);
  for (const ch of children) ch.kill("SIGKILL");
  await Promise.all(children.map((ch) => ch.exited()));
}
