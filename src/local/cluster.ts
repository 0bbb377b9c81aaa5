// The backend-neutral half of a ServerCluster: members, health polling, fault injection and cleanup.
// etcd.ts and zookeeper.ts supply the commands and the per-member health probe.
import type { Member } from "./member.ts";
import type { Registration } from "./registry.ts";

export interface ServerCluster {
  readonly kind: "etcd" | "zookeeper";
  /** client endpoints "127.0.0.1:PORT", one per member, in member order */
  readonly endpoints: readonly string[];
  readonly size: number;
  /** SIGKILL member i and wait until it has exited */
  kill(i: number): Promise<void>;
  /** SIGSTOP member i (frozen, TCP stays open) */
  pause(i: number): void;
  /** SIGCONT member i */
  resume(i: number): void;
  /**
   * start member i again (after kill) with the same data dir and ports; wait until the cluster is healthy
   * and member i serves; a member still running is SIGKILLed first
   */
  restart(i: number): Promise<void>;
  /**
   * wait until the cluster serves requests (etcd: a quorum answers; ZooKeeper: srvr shows Mode: on a quorum,
   * one of them "leader"); default timeout 20 s
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** kill every member still running, remove every temp dir; idempotent */
  stop(): Promise<void>;
}

export const DEFAULT_START_TIMEOUT_MS = 20_000;
const POLL_MS = 50;

/** What a backend (etcd.ts, zookeeper.ts) hands to the generic cluster. */
export interface ClusterSpec {
  readonly kind: "etcd" | "zookeeper";
  readonly endpoints: readonly string[];
  readonly members: readonly Member[];
  readonly registration: Registration;
  readonly dir: string;
  /**
   * Member i's role when it serves requests ("leader", "follower", "standalone", "healthy"), else
   * undefined. Must settle within `timeoutMs`: a paused member never answers.
   */
  probe(i: number, timeoutMs: number): Promise<string | undefined>;
  /** A quorum only counts when one of its members says "leader" (ZooKeeper followers lag a dead leader). */
  readonly requireLeader?: boolean;
  /** When set, member i+1 is only started once this says member i listens (see etcd.ts for why). */
  listening?(i: number, timeoutMs: number): Promise<boolean>;
}

export class HarnessCluster implements ServerCluster {
  readonly kind: "etcd" | "zookeeper";
  readonly endpoints: readonly string[];
  readonly size: number;
  readonly #spec: ClusterSpec;
  #stopped = false;
  #stopping: Promise<void> | undefined;

  constructor(spec: ClusterSpec) {
    this.#spec = spec;
    this.kind = spec.kind;
    this.endpoints = spec.endpoints;
    this.size = spec.members.length;
  }

  /** Starts every member and waits until all of them serve (not just a quorum: tests then kill freely). */
  async startAll(timeoutMs = DEFAULT_START_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const all = [...this.#spec.members.keys()];
    for (const i of all) {
      this.#member(i).start();
      const listening = this.#spec.listening;
      if (listening && i < this.size - 1) {
        await this.#poll(deadline, timeoutMs, `start of member ${i}`, [i], (left) => listening(i, left));
      }
    }
    await this.#waitFor(this.size, all, deadline, timeoutMs, "start");
  }

  async kill(i: number): Promise<void> {
    await this.#member(i).kill();
  }

  pause(i: number): void {
    this.#member(i).pause();
  }

  resume(i: number): void {
    this.#member(i).resume();
  }

  async restart(i: number, timeoutMs = DEFAULT_START_TIMEOUT_MS): Promise<void> {
    const m = this.#member(i);
    // Several suites call restart() on a running member to mean "crash and come back": kill it first.
    await m.kill();
    m.start();
    await this.#waitFor(quorum(this.size), [i], Date.now() + timeoutMs, timeoutMs, `restart of member ${i}`);
  }

  async waitHealthy(timeoutMs = DEFAULT_START_TIMEOUT_MS): Promise<void> {
    await this.#waitFor(quorum(this.size), [], Date.now() + timeoutMs, timeoutMs, "waitHealthy");
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#stopped = true;
    // A frozen process still dies of SIGKILL, so no SIGCONT is needed first.
    await Promise.all(this.#spec.members.map((m) => m.kill()));
    this.#spec.registration.release();
  }

  /** Polls until at least `needed` members serve, including every member in `required`. */
  async #waitFor(
    needed: number,
    required: readonly number[],
    deadline: number,
    timeoutMs: number,
    what: string,
  ): Promise<void> {
    let seen = "";
    await this.#poll(
      deadline,
      timeoutMs,
      what,
      required,
      async (left) => {
        const roles = await this.roles(Math.min(1_000, left));
        seen = roles.map((r) => r ?? "-").join(",");
        const serving = roles.filter((r) => r !== undefined);
        return (
          serving.length >= needed &&
          required.every((i) => roles[i] !== undefined) &&
          (!this.#spec.requireLeader || this.size === 1 || serving.includes("leader"))
        );
      },
      () => `last roles by member: ${seen || "none yet"}`,
    );
  }

  /**
   * Calls `check` until it is true. Fails at once when a member in `required` exits by itself (bad
   * config, port taken) instead of waiting for the deadline.
   */
  async #poll(
    deadline: number,
    timeoutMs: number,
    what: string,
    required: readonly number[],
    check: (leftMs: number) => Promise<boolean>,
    detail: () => string = () => "",
  ): Promise<void> {
    for (;;) {
      if (this.#stopped) throw new Error(`${this.kind} cluster was stopped during ${what}`);
      const dead = required.find((i) => this.#spec.members[i]?.unexpectedExit !== undefined);
      if (dead !== undefined) {
        const exit = this.#spec.members[dead]!.unexpectedExit!;
        throw this.#failure(
          `${what}: member ${dead} exited (code ${exit.code}, signal ${exit.signal})`,
          detail(),
        );
      }
      if (await check(Math.max(deadline - Date.now(), 50))) return;
      if (Date.now() >= deadline) throw this.#failure(`${what}: not ready after ${timeoutMs} ms`, detail());
      await new Promise<void>((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  #failure(message: string, detail: string): Error {
    const logs = this.#spec.members.map((m, i) => `=== member ${i}\n${m.logTail()}`).join("\n");
    return new Error(`${this.kind}: ${message}${detail ? `; ${detail}` : ""}\n${logs}`);
  }

  /** Each member's role right now ("leader", "follower", "standalone", "healthy"; undefined: not serving). */
  roles(timeoutMs = 1_000): Promise<(string | undefined)[]> {
    return Promise.all(
      this.#spec.members.map((m, i) => (m.running ? this.#spec.probe(i, timeoutMs) : undefined)),
    );
  }

  /** For the harness's own tests: live PIDs by member and the temp dir. */
  inspect(): ClusterInternals {
    return { dir: this.#spec.dir, pids: this.#spec.members.map((m) => m.pid) };
  }

  #member(i: number): Member {
    const m = this.#spec.members[i];
    if (!m) throw new RangeError(`${this.kind} cluster has no member ${i} (size ${this.size})`);
    return m;
  }
}

export interface ClusterInternals {
  readonly dir: string;
  readonly pids: readonly (number | undefined)[];
}

/** PIDs and temp dir of a cluster started by this harness (tests of the harness itself check cleanup). */
export function inspectCluster(cluster: ServerCluster): ClusterInternals {
  return harnessCluster(cluster).inspect();
}

/**
 * Each member's role now: ZooKeeper "leader" / "follower" / "standalone", etcd "healthy"; undefined for a
 * member that does not serve (killed, paused, out of quorum). For tests that must pick the leader or not.
 */
export function clusterRoles(cluster: ServerCluster): Promise<(string | undefined)[]> {
  return harnessCluster(cluster).roles();
}

function harnessCluster(cluster: ServerCluster): HarnessCluster {
  if (!(cluster instanceof HarnessCluster)) throw new TypeError("not a cluster started by the harness");
  return cluster;
}

export function quorum(size: number): number {
  return Math.floor(size / 2) + 1;
}

/** True when a start failure looks like a port race lost to another process: worth a retry on new ports. */
export function isPortConflict(e: unknown): boolean {
  const text = e instanceof Error ? e.message : String(e);
  return /address already in use|BindException|EADDRINUSE/i.test(text);
}
