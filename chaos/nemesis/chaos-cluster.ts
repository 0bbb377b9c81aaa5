// The cluster as the nemesis sees it: a LocalCluster plus what faults need to aim and to heal — the current
// leader (read from the JobManagers' events, never asked), the live processes, replacements that keep the
// configured counts, and bounded waits for a leader and for TaskManager registrations.
import { sleep } from "../../src/common/clock.ts";
import { DeadlineExceededError } from "../../src/common/errors.ts";
import type { ServerCluster } from "../../src/local/cluster.ts";
import { stateOf } from "../../src/local/proc.ts";
import type { ExitStatus } from "../../src/local/processes.ts";
import { LocalCluster, type LocalClusterOptions, type Member } from "../../src/local/vigil-cluster.ts";
import { currentLeader, epochOf } from "./leader.ts";

export interface LeaderView {
  readonly member: Member;
  readonly epoch: bigint;
}

export interface WaitOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

const POLL_MS = 20;
const SIGNAL_WAIT_MS = 2_000;

export class ChaosCluster {
  readonly #paused = new Set<Member>();

  /** Counts come from `local.options`; heals start replacements until they are met again. */
  constructor(readonly local: LocalCluster) {}

  /** Starts a LocalCluster (see its options) and wraps it. */
  static async start(options: LocalClusterOptions, timeoutMs?: number): Promise<ChaosCluster> {
    return new ChaosCluster(await LocalCluster.start(options, timeoutMs));
  }

  get ttlMs(): number {
    return this.local.options.ttlSeconds * 1_000;
  }

  /** The etcd cluster / ZooKeeper ensemble, for faults on its members. */
  get coordinator(): ServerCluster {
    return this.local.coordinator;
  }

  /** JobManagers whose process has not exited (paused ones included). */
  jobmanagers(): Member[] {
    return this.local.alive("jobmanager");
  }

  /** TaskManagers whose process has not exited. */
  taskmanagers(): Member[] {
    return this.local.alive("taskmanager");
  }

  /** Members frozen by pause() and not resumed yet. */
  paused(): Member[] {
    return [...this.#paused].filter((m) => this.local.exitedAt(m) === undefined);
  }

  /** The current leader by the events (see leader.ts); undefined while there is none. */
  leader(): LeaderView | undefined {
    const views = this.local.jobmanagers.map((member) => ({
      member,
      name: member.name,
      alive: this.local.exitedAt(member) === undefined,
      events: member.proc.events,
    }));
    const found = currentLeader(views);
    return found && { member: found.jobmanager.member, epoch: found.epoch };
  }

  /** SIGSTOP, resolving once the kernel shows it stopped: it keeps its sockets but does nothing. */
  async pause(member: Member, signal?: AbortSignal): Promise<void> {
    this.#paused.add(member);
    member.proc.pause();
    await this.#untilState(member, (state) => state === "T", "stopped (SIGSTOP)", signal);
  }

  /** SIGCONT, resolving once it runs again; a no-op for a member that is not paused. */
  async resume(member: Member, signal?: AbortSignal): Promise<void> {
    if (!this.#paused.delete(member)) return;
    member.proc.resume();
    await this.#untilState(member, (state) => state !== "T", "running again (SIGCONT)", signal);
  }

  /** A signal reaches every thread of a process a little after kill() returns. Exited counts as done. */
  async #untilState(
    member: Member,
    ok: (state: string) => boolean,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    await this.#poll(
      { timeoutMs: SIGNAL_WAIT_MS, ...(signal && { signal }) },
      `${member.name} ${what}`,
      () => {
        const state = stateOf(member.proc.pid);
        return state === undefined || this.local.exitedAt(member) !== undefined || ok(state);
      },
    );
  }

  /** Sends `signal` (default SIGKILL, which also ends a paused process) and waits until it has exited. */
  async kill(member: Member, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    await this.local.kill(member, signal);
    this.#paused.delete(member);
  }

  /** SIGTERM, then SIGKILL if it has not exited within `timeoutMs`; says which ended it. */
  async terminate(
    member: Member,
    timeoutMs: number,
  ): Promise<{ readonly by: "SIGTERM" | "SIGKILL" } & ExitStatus> {
    await this.resume(member);
    member.proc.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), timeoutMs);
    });
    const outcome = await Promise.race([member.proc.exited(), late]);
    clearTimeout(timer);
    if (outcome !== "late") {
      await this.kill(member); // Marks it exited; the process is gone already.
      return { by: "SIGTERM", ...outcome };
    }
    await this.kill(member);
    return { by: "SIGKILL", ...(await member.proc.exited()) };
  }

  /** Starts JobManagers and TaskManagers until the configured counts live again; returns those started. */
  async restoreCounts(): Promise<Member[]> {
    const started: Member[] = [];
    const { jobmanagers, taskmanagers } = this.local.options;
    for (let n = this.jobmanagers().length; n < jobmanagers; n++)
      started.push(await this.local.addJobManager());
    for (let n = this.taskmanagers().length; n < taskmanagers; n++)
      started.push(this.local.startTaskManager());
    return started;
  }

  /** Polls the events until a leader with an epoch above `after` (default: any) leads. */
  async waitForLeader(options: WaitOptions & { readonly after?: bigint }): Promise<LeaderView> {
    const after = options.after ?? -1n;
    let found: LeaderView | undefined;
    await this.#poll(options, `a leader with an epoch above ${after}`, () => {
      const leader = this.leader();
      if (leader && leader.epoch > after) found = leader;
      return found !== undefined;
    });
    return found!;
  }

  /** Polls until every live TaskManager has registered with a leader of `epoch` or later. */
  async waitForRegistrations(epoch: bigint, options: WaitOptions): Promise<void> {
    await this.#poll(options, `every TaskManager registered with epoch ${epoch} or later`, () =>
      this.taskmanagers().every((m) =>
        m.proc.events.some((e) => e["event"] === "registered" && (epochOf(e) ?? -1n) >= epoch),
      ),
    );
  }

  /**
   * Waits, within one bound, for a leader and for every live TaskManager to register with it; the leader, or
   * undefined when that did not happen in time (whether the system recovers is for the checkers to judge).
   */
  async settle(options: WaitOptions): Promise<LeaderView | undefined> {
    const deadline = Date.now() + options.timeoutMs;
    const left = (): WaitOptions => ({ ...options, timeoutMs: Math.max(0, deadline - Date.now()) });
    try {
      for (;;) {
        const leader = await this.waitForLeader(left());
        await this.waitForRegistrations(leader.epoch, left());
        const now = this.leader();
        if (now?.epoch === leader.epoch) return leader;
      }
    } catch (e: unknown) {
      if (e instanceof DeadlineExceededError) return undefined;
      throw e;
    }
  }

  /** Stops everything (LocalCluster.stop). Idempotent. */
  async stop(): Promise<void> {
    this.#paused.clear();
    await this.local.stop();
  }

  /** What each member said last, for a wait that timed out. */
  describe(): string {
    return this.local.members
      .map(
        (m) =>
          `${m.name}${this.local.exitedAt(m) !== undefined ? " (exited)" : this.#paused.has(m) ? " (paused)" : ""}: ` +
          JSON.stringify(m.proc.events.at(-1) ?? null),
      )
      .join("\n  ");
  }

  async #poll(options: WaitOptions, what: string, done: () => boolean): Promise<void> {
    const deadline = Date.now() + options.timeoutMs;
    while (!done()) {
      if (Date.now() >= deadline) {
        throw new DeadlineExceededError(
          `chaos cluster: waited ${options.timeoutMs} ms for ${what} in vain; last events:\n  ${this.describe()}`,
        );
      }
      await sleep(POLL_MS, options.signal);
    }
  }
}
