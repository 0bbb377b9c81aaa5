// Terse hand-written runs for the checkers' unit tests: events by member (`jm("jm-1").granted(100, 1)`), client
// and nemesis calls that become a well-formed history, and a CheckInput with sensible defaults.
import type { Op, OpType, ProcessId } from "../history.ts";
import type { CheckBounds, CheckInput, ClusterEvent, FinalState } from "../types.ts";

export const BOUNDS: CheckBounds = {
  ttlMs: 1_000,
  recoveryMs: 3_000,
  cancelMs: 1_000,
  cleanupMs: 2_000,
  registrationMs: 1_000,
  checkpointIntervalMs: 500,
  slackMs: 100,
};

type Fields = Record<string, unknown>;

/** One event of `source` ("jm-…" is a JobManager, anything else a TaskManager) at wall ms `at`. */
export function ev(at: number, source: string, event: string, fields: Fields = {}): ClusterEvent {
  return { event, ...fields, at, source, role: source.startsWith("jm") ? "jobmanager" : "taskmanager" };
}

const n = (v: number | bigint): string => String(v);

export function jm(source: string) {
  const e = (at: number, event: string, fields: Fields = {}): ClusterEvent => ev(at, source, event, fields);
  return {
    started: (at: number) => e(at, "jobmanager-started", { name: source }),
    granted: (at: number, epoch: number, revision?: number) =>
      e(at, "granted", { epoch: n(epoch), ...(revision !== undefined && { revision: n(revision) }) }),
    published: (at: number, epoch: number) => e(at, "published", { epoch: n(epoch), address: "127.0.0.1:1" }),
    revoked: (at: number, epoch: number) => e(at, "revoked", { epoch: n(epoch), reason: "test" }),
    submitted: (at: number, job: string, epoch: number) => e(at, "job-submitted", { job, epoch: n(epoch) }),
    state: (at: number, job: string, state: string, epoch: number) =>
      e(at, "job-state", { job, state, epoch: n(epoch) }),
    deployed: (at: number, job: string, execution: string, epoch: number, checkpoint = 0) =>
      e(at, "task-deployed", {
        job,
        execution,
        vertex: "v",
        subtask: 0,
        attempt: 1,
        taskmanager: "tm-1",
        epoch: n(epoch),
        checkpoint: n(checkpoint),
      }),
    triggered: (at: number, job: string, checkpoint: number, epoch: number) =>
      e(at, "checkpoint-triggered", { job, checkpoint: n(checkpoint), epoch: n(epoch) }),
    completed: (at: number, job: string, checkpoint: number, epoch: number, savepoint = false) =>
      e(at, "checkpoint-completed", {
        job,
        checkpoint: n(checkpoint),
        epoch: n(epoch),
        durationMs: 5,
        bytes: 10,
        ...(savepoint && { savepoint: true }),
      }),
    write: (at: number, key: string, epoch: number, revision?: number) =>
      e(at, "store-write", {
        key,
        epoch: n(epoch),
        ...(revision !== undefined && { revision: n(revision) }),
      }),
    refused: (at: number, key: string, epoch: number) =>
      e(at, "store-write-refused", { key, epoch: n(epoch), reason: "stale" }),
    cleaned: (at: number, job: string, epoch: number) => e(at, "job-cleaned", { job, epoch: n(epoch) }),
  };
}

export function tm(source: string) {
  const e = (at: number, event: string, fields: Fields = {}): ClusterEvent => ev(at, source, event, fields);
  const task = (job: string, execution: string, epoch: number): Fields => ({
    job,
    execution,
    vertex: "v",
    subtask: 0,
    attempt: 1,
    epoch: n(epoch),
  });
  return {
    started: (at: number) => e(at, "taskmanager-started", { id: source, address: "127.0.0.1:2", slots: 4 }),
    registered: (at: number, epoch: number) =>
      e(at, "registered", { epoch: n(epoch), leader: "127.0.0.1:1" }),
    leaderLost: (at: number, epoch: number) => e(at, "leader-lost", { epoch: n(epoch), reason: "test" }),
    running: (at: number, job: string, execution: string, epoch: number) =>
      e(at, "task-running", task(job, execution, epoch)),
    stopped: (at: number, job: string, execution: string, epoch: number, state = "CANCELED") =>
      e(at, "task-stopped", { ...task(job, execution, epoch), state }),
    rejected: (at: number, epoch: number, highest: number) =>
      e(at, "command-rejected", {
        command: "deploy",
        execution: "x",
        epoch: n(epoch),
        highest: n(highest),
        reason: "stale",
      }),
    stoppedProcess: (at: number) => e(at, "stopped", { name: source }),
  };
}

/** Events sorted by `at` (stable), as checkers get them. */
export function events(...list: ClusterEvent[]): ClusterEvent[] {
  return [...list].sort((a, b) => (a["at"] as number) - (b["at"] as number));
}

/** One operation: invoked at `at`, completed (`type`) at `end`; "open" never completes. */
export interface Call {
  readonly process: ProcessId;
  readonly f: string;
  readonly at: number;
  readonly end: number;
  readonly type: Exclude<OpType, "invoke"> | "open";
  readonly args?: unknown;
  readonly result?: unknown;
}

export const submit = (
  process: number,
  at: number,
  end: number,
  job: string,
  type: Call["type"] = "ok",
): Call => ({
  process,
  f: "submit",
  at,
  end,
  type,
  result: { job },
});
export const cancel = (
  process: number,
  at: number,
  end: number,
  job: string,
  type: Call["type"] = "ok",
): Call => ({
  process,
  f: "cancel",
  at,
  end,
  type,
  result: { job },
});
export const fault = (f: string, at: number, end: number, result?: unknown): Call => ({
  process: "nemesis",
  f,
  at,
  end,
  type: "ok",
  ...(result !== undefined && { result }),
});

/** A well-formed history of the calls (ops ordered by time; `time` counts from the first op). */
export function history(...calls: Call[]): Op[] {
  const raw: { at: number; op: Omit<Op, "index" | "time"> }[] = [];
  for (const c of calls) {
    raw.push({
      at: c.at,
      op: {
        type: "invoke",
        process: c.process,
        f: c.f,
        at: c.at,
        ...(c.args !== undefined && { value: c.args }),
      },
    });
    if (c.type === "open") continue;
    const error = c.type === "ok" ? {} : { error: "test" };
    raw.push({
      at: c.end,
      op: {
        type: c.type,
        process: c.process,
        f: c.f,
        at: c.end,
        ...error,
        ...(c.result !== undefined && { value: c.result }),
      },
    });
  }
  raw.sort((a, b) => a.at - b.at);
  const origin = raw[0]?.at ?? 0;
  return raw.map((r, index) => ({ ...r.op, index, time: r.at - origin }));
}

export const FINAL: FinalState = { at: 100_000, jobs: [], storeKeys: [], blobs: [], outputs: {} };

export function input(
  parts: {
    history?: Op[];
    events?: ClusterEvent[];
    final?: Partial<FinalState>;
    bounds?: Partial<CheckBounds>;
  } = {},
): CheckInput {
  return {
    history: parts.history ?? [],
    events: parts.events ?? [],
    final: { ...FINAL, ...parts.final },
    bounds: { ...BOUNDS, ...parts.bounds },
  };
}
