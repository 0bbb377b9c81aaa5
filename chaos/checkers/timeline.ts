// The reading of a run that the checkers share. Event lines are loose JSON (epochs, revisions and checkpoint ids
// arrive as decimal strings, or bigints in process), so fields are read through these accessors; the rest derives
// timelines: the clients' jobs from the history, leader terms, task runs, and when a process is known gone.
// Nothing here decides validity. Outcome-unknown ops (info, or never completed) count neither way.
import { InvalidArgumentError } from "../../src/common/errors.ts";
import { nemesisPhase } from "../generator.ts";
import { type Op, type OpPair, pairs } from "../history.ts";
import type { CheckInput, ClusterEvent } from "../types.ts";

export const TERMINAL: ReadonlySet<string> = new Set(["FINISHED", "CANCELED", "FAILED"]);

export function text(e: ClusterEvent, field: string): string | undefined {
  const v = e[field];
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  return undefined;
}

/** A decimal field (epoch, revision, checkpoint id) as a bigint; undefined when absent or not an integer. */
export function big(e: ClusterEvent, field: string): bigint | undefined {
  const t = text(e, field);
  return t !== undefined && /^-?\d+$/.test(t) ? BigInt(t) : undefined;
}

export const epochOf = (e: ClusterEvent): bigint | undefined => big(e, "epoch");

export function atOf(e: ClusterEvent): number {
  const at = e["at"];
  if (typeof at !== "number" || !Number.isFinite(at)) {
    throw new InvalidArgumentError(`event of ${e.source} without a numeric "at": ${String(e["event"])}`);
  }
  return at;
}

/** "RUNNING" from "RUNNING", "JOB_STATE_RUNNING" or "JOB_STATUS_RUNNING" (events vs. RPC listings). */
export function normState(state: string): string {
  return state.replace(/^JOB_(STATE|STATUS)_/, "");
}

export function stateOf(e: ClusterEvent): string | undefined {
  const s = text(e, "state");
  return s === undefined ? undefined : normState(s);
}

export function ofKind(events: readonly ClusterEvent[], ...kinds: string[]): ClusterEvent[] {
  return events.filter((e) => kinds.includes(String(e["event"])));
}

export function byJob(events: readonly ClusterEvent[]): Map<string, ClusterEvent[]> {
  const jobs = new Map<string, ClusterEvent[]>();
  for (const e of events) {
    const job = text(e, "job");
    if (job === undefined) continue;
    const list = jobs.get(job) ?? [];
    list.push(e);
    jobs.set(job, list);
  }
  return jobs;
}

/** A job id in an op's value: the value itself when a string, else its `job` (or `jobId`) field. */
export function jobOf(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const job = v["job"] ?? v["jobId"];
  return typeof job === "string" ? job : undefined;
}

/** The job an operation is about: its result's job, else its arguments'. */
export function jobOfPair(p: OpPair): string | undefined {
  return jobOf(p.completion?.value) ?? jobOf(p.invoke.value);
}

const SUBMITS: ReadonlySet<string> = new Set(["submit", "run"]);

export interface ClientJobs {
  /** Jobs whose submission (f "submit" or "run") completed ok: the first ok completion. */
  readonly acknowledged: ReadonlyMap<string, Op>;
  /** Jobs whose cancel completed ok: the first ok completion. */
  readonly cancelled: ReadonlyMap<string, Op>;
  /** Jobs with a cancel of unknown outcome (info, or never completed): they may or may not be cancelled. */
  readonly cancelUncertain: ReadonlySet<string>;
}

export function clientJobs(history: readonly Op[]): ClientJobs {
  const acknowledged = new Map<string, Op>();
  const cancelled = new Map<string, Op>();
  const cancelUncertain = new Set<string>();
  for (const p of pairs(history)) {
    if (p.invoke.process === "nemesis") continue;
    const job = jobOfPair(p);
    if (job === undefined) continue;
    const c = p.completion;
    if (SUBMITS.has(p.invoke.f) && c?.type === "ok" && !acknowledged.has(job)) acknowledged.set(job, c);
    if (p.invoke.f !== "cancel") continue;
    if (c?.type === "ok") {
      if (!cancelled.has(job)) cancelled.set(job, c);
    } else if (c === undefined || c.type === "info") cancelUncertain.add(job);
  }
  return { acknowledged, cancelled, cancelUncertain };
}

export function nemesisOps(history: readonly Op[]): OpPair[] {
  return pairs(history).filter((p) => p.invoke.process === "nemesis");
}

/** A nemesis op that heals: f "heal" or "heal-…", or an argument/result object with phase "heal". */
export function isHeal(p: OpPair): boolean {
  const f = p.invoke.f;
  return (
    f === "heal" ||
    f.startsWith("heal-") ||
    [p.invoke.value, p.completion?.value].some((v) => nemesisPhase(v) === "heal")
  );
}

/** When each job first became terminal: its first terminal job-state (any epoch) or its first cancel ok. */
export function terminalTimes(input: CheckInput): Map<string, { readonly at: number; readonly why: string }> {
  const out = new Map<string, { at: number; why: string }>();
  const consider = (job: string, at: number, why: string): void => {
    const seen = out.get(job);
    if (seen === undefined || at < seen.at) out.set(job, { at, why });
  };
  for (const e of ofKind(input.events, "job-state")) {
    const job = text(e, "job");
    const state = stateOf(e);
    if (job !== undefined && state !== undefined && TERMINAL.has(state))
      consider(job, atOf(e), `job-state ${state}`);
  }
  for (const [job, op] of clientJobs(input.history).cancelled)
    consider(job, op.at, `cancel ok, op ${op.index}`);
  return out;
}

export interface Term {
  readonly epoch: bigint;
  readonly source: string;
  readonly granted: ClusterEvent;
  /** Its own revocation, the first grant of a higher epoch, or `until`, whichever comes first. */
  readonly end: number;
}

/** Leader terms in grant order (grants without an epoch are left out: I1 reports them). */
export function leaderTerms(events: readonly ClusterEvent[], until: number): Term[] {
  const grants = ofKind(events, "granted");
  const revokes = ofKind(events, "revoked");
  const terms: Term[] = [];
  for (const g of grants) {
    const epoch = epochOf(g);
    if (epoch === undefined) continue;
    const at = atOf(g);
    const newer = grants.find((n) => (epochOf(n) ?? -1n) > epoch && atOf(n) >= at);
    const revoked = revokes.find((r) => r.source === g.source && epochOf(r) === epoch && atOf(r) >= at);
    const end = Math.min(until, newer ? atOf(newer) : Infinity, revoked ? atOf(revoked) : Infinity);
    terms.push({ epoch, source: g.source, granted: g, end });
  }
  return terms;
}

/** The highest epoch granted at or before `at`. */
export function epochAt(terms: readonly Term[], at: number): bigint | undefined {
  let epoch: bigint | undefined;
  for (const t of terms)
    if (atOf(t.granted) <= at && (epoch === undefined || t.epoch > epoch)) epoch = t.epoch;
  return epoch;
}

const GONE_EVENTS: ReadonlySet<string> = new Set([
  "stopped",
  "exited",
  "jobmanager-started",
  "taskmanager-started",
]);

/**
 * When processes are known to be gone: their own `stopped` event, an `exited` event (the runner may add one per
 * member from the exit it observed), their restart (a later `…-started`), or the
 * completion of a nemesis op that is not a heal and names them in its arguments or result (`"tm-1"` as a JSON
 * string anywhere in the value). A process can also die silently; checkers must not assume it lives.
 */
export class Lifetimes {
  readonly #marks = new Map<string, number[]>();

  constructor(input: CheckInput) {
    const add = (source: string, at: number): void => {
      const list = this.#marks.get(source) ?? [];
      list.push(at);
      this.#marks.set(source, list);
    };
    const sources = new Set(input.events.map((e) => e.source));
    for (const e of input.events) if (GONE_EVENTS.has(String(e["event"]))) add(e.source, atOf(e));
    for (const p of nemesisOps(input.history)) {
      const c = p.completion;
      if (c === undefined || c.type === "fail" || isHeal(p)) continue;
      const named = JSON.stringify([p.invoke.value ?? null, c.value ?? null]);
      for (const s of sources) if (named.includes(JSON.stringify(s))) add(s, c.at);
    }
    for (const list of this.#marks.values()) list.sort((a, b) => a - b);
  }

  /** The first time after `from` by which `source` is known gone (or replaced); Infinity when none. */
  goneAfter(source: string, from: number): number {
    return this.#marks.get(source)?.find((at) => at > from) ?? Infinity;
  }
}

export interface TaskRun {
  readonly job: string;
  readonly execution: string;
  readonly source: string;
  readonly epoch: bigint | undefined;
  readonly start: number;
  /** Its task-stopped, or when its TaskManager was known gone; Infinity when neither was seen. */
  readonly end: number;
  readonly how: "stopped" | "gone" | "open";
  readonly event: ClusterEvent;
}

/** Every task-running, with when it stopped (matched by TaskManager and execution). */
export function taskRuns(input: CheckInput, lifetimes: Lifetimes): TaskRun[] {
  const stops = new Map<string, number[]>();
  for (const e of ofKind(input.events, "task-stopped")) {
    const key = `${e.source}\u0000${text(e, "execution")}`;
    stops.set(key, [...(stops.get(key) ?? []), atOf(e)]);
  }
  return ofKind(input.events, "task-running").map((e) => {
    const start = atOf(e);
    const execution = text(e, "execution") ?? "?";
    const stopped = stops.get(`${e.source}\u0000${execution}`)?.find((at) => at >= start) ?? Infinity;
    const gone = lifetimes.goneAfter(e.source, start);
    const end = Math.min(stopped, gone);
    const how = end === Infinity ? "open" : stopped <= gone ? "stopped" : "gone";
    return {
      job: text(e, "job") ?? "?",
      execution,
      source: e.source,
      epoch: epochOf(e),
      start,
      end,
      how,
      event: e,
    };
  });
}
