// The shapes every part of the chaos harness shares: the events the vigil processes print, the state read at
// the end of a run, and the checkers' verdicts (Jepsen's model: a history, a checker, a verdict).
import type { VigilEvent } from "../src/local/processes.ts";
import type { Op } from "./history.ts";

/** One event line of a vigil process, with where it came from. `at` is wall-clock ms. */
export type ClusterEvent = VigilEvent & {
  /** The member's name, e.g. "jm-2" or "tm-1". */
  readonly source: string;
  readonly role: "jobmanager" | "taskmanager";
};

/** What the runner reads once the final healing phase is over. */
export interface FinalState {
  /** Wall-clock ms of the read. */
  readonly at: number;
  /** Every job the leader reports, with its state; undefined when no leader answered. */
  readonly jobs: readonly { readonly job: string; readonly state: string }[] | undefined;
  /** Every HA-store key under the cluster's prefix; undefined when unreadable. */
  readonly storeKeys: readonly string[] | undefined;
  /** File names under <storage>/blobs (blob kinds embed the job id); undefined when unreadable. */
  readonly blobs: readonly string[] | undefined;
  /** keyed-count outputs per job id: the exactly-once report of src/local/keyed-count-check.ts. */
  readonly outputs: Readonly<Record<string, KeyedCountOutcome>>;
}

export interface KeyedCountOutcome {
  readonly problems: readonly string[];
  readonly lines: number;
  readonly expected: number;
}

export interface CheckBounds {
  /** Lease TTL / session timeout. */
  readonly ttlMs: number;
  /** I2: after the last heal, every job that should run is RUNNING again within this. */
  readonly recoveryMs: number;
  /** I3: a cancelled job's tasks have stopped within this after the cancel's ok. */
  readonly cancelMs: number;
  /** I10: a terminal job's HA records and blobs are gone within this. */
  readonly cleanupMs: number;
  /** I11: after a leader change every live TaskManager re-registers within this. */
  readonly registrationMs: number;
  /** I5: the workload's checkpoint interval; 0 when it takes none (I5 then holds trivially, with a note). */
  readonly checkpointIntervalMs: number;
  /** Allowance for comparing wall-clock times of different processes (scheduling, event printing). */
  readonly slackMs: number;
}

export interface CheckInput {
  readonly history: readonly Op[];
  /** Sorted by `at`. */
  readonly events: readonly ClusterEvent[];
  readonly final: FinalState;
  readonly bounds: CheckBounds;
}

/** true: holds; false: violated; "unknown": could not be decided (a checker that throws gives this). */
export type Validity = true | false | "unknown";

export interface Verdict {
  /** "I1" … "I11". */
  readonly id: string;
  /** Short, e.g. "one leader at a time, fenced". */
  readonly name: string;
  readonly valid: Validity;
  /** At most 20, each naming the ops (index) or events (source, at) involved. */
  readonly problems: readonly string[];
  /** What was seen to work, e.g. "3 stale commands refused by TaskManagers". */
  readonly evidence?: readonly string[];
}

export interface Checker {
  readonly id: string;
  readonly name: string;
  check(input: CheckInput): Verdict;
}
