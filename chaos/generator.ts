// Generators say what the clients and the nemesis do, and when (Jepsen's generator, in TypeScript). A generator
// is an immutable value: `step(ctx)` returns the next operation, a time to sleep until, or done, together with
// the generator to step afterwards. Given the same ctx (same time, random in the same state) it returns the
// same step, so a run's schedule follows from its seed. The runner owns concurrency: it steps a client
// generator whenever a worker is free and the nemesis generator whenever the last fault op completed.
//
// Sleep contract (every combinator here keeps it, custom generators must too): the `next` of a sleep step
// may be stepped before `untilMs`; it then sleeps again until the same time without using `random`.
import { type Op, pairs } from "./history.ts";
import type { Random } from "./random.ts";

/** What to do: f names the operation (or the fault); value holds its arguments. */
export interface GenOp {
  readonly f: string;
  readonly value?: unknown;
}

export interface GenContext {
  /** Ms on the runner's monotonic clock (the history's `time` scale). */
  readonly nowMs: number;
  readonly random: Random;
}

export type Step =
  | { readonly kind: "op"; readonly op: GenOp; readonly next: Generator }
  | { readonly kind: "sleep"; readonly untilMs: number; readonly next: Generator }
  | { readonly kind: "done" };

export interface Generator {
  step(ctx: GenContext): Step;
}

const DONE: Step = { kind: "done" };

/** A generator from its step function. */
export function gen(step: (ctx: GenContext) => Step): Generator {
  return { step };
}

/** Yields nothing. */
export const done: Generator = gen(() => DONE);

function opStep(op: GenOp, next: Generator): Step {
  return { kind: "op", op, next };
}

function sleepStep(untilMs: number, next: Generator): Step {
  return { kind: "sleep", untilMs, next };
}

/** The same step with a different `next`. */
function withNext(s: Exclude<Step, { kind: "done" }>, next: Generator): Step {
  return s.kind === "op" ? opStep(s.op, next) : sleepStep(s.untilMs, next);
}

type OpSource = GenOp | ((ctx: GenContext) => GenOp);

function resolve(source: OpSource, ctx: GenContext): GenOp {
  return typeof source === "function" ? source(ctx) : source;
}

/** repeat(op | fn): that op (or fn(ctx)'s op) on every step, forever. */
export function repeat(source: OpSource): Generator {
  const self: Generator = gen((ctx) => opStep(resolve(source, ctx), self));
  return self;
}

/** once(op | fn): one op, then done. */
export function once(source: OpSource): Generator {
  return gen((ctx) => opStep(resolve(source, ctx), done));
}

/** seq(a, b, …): all of a's steps until it is done, then b's, and so on. */
export function seq(...gs: readonly Generator[]): Generator {
  return gen((ctx) => {
    for (let i = 0; i < gs.length; i++) {
      const s = gs[i]!.step(ctx);
      if (s.kind === "done") continue;
      const rest = gs.slice(i + 1);
      // Without rest, no wrapper: cycle() and nemesisCycle() recurse through seq and must not nest deeper.
      return withNext(s, rest.length === 0 ? s.next : seq(s.next, ...rest));
    }
    return DONE;
  });
}

/**
 * phases(a, b, …): seq. Jepsen's phases also waits for outstanding operations between phases; here the runner
 * does that, by running each phase's generator to the end before starting the next.
 */
export const phases = seq;

/** cycle(a, b, …): seq(a, b, …) again and again, from the start; done if a whole pass yields nothing. */
export function cycle(...gs: readonly Generator[]): Generator {
  const self: Generator = gen((ctx) => {
    const s = seq(...gs).step(ctx);
    return s.kind === "done" ? DONE : withNext(s, seq(s.next, self));
  });
  return self;
}

/** mix(a, b, …): each op from a uniformly chosen generator among those with an op now; done when all are. */
export function mix(...gs: readonly Generator[]): Generator {
  return mixing(gs, undefined);
}

/** mix, asleep until `wakeMs` (when every generator slept; re-stepping early must not draw). */
function mixing(gs: readonly Generator[], wakeMs: number | undefined): Generator {
  return gen((ctx) => {
    if (wakeMs !== undefined && ctx.nowMs < wakeMs) return sleepStep(wakeMs, mixing(gs, wakeMs));
    const current = [...gs];
    const live = new Set(current.keys());
    let wake = Number.POSITIVE_INFINITY;
    for (const i of ctx.random.shuffle([...live])) {
      const s = current[i]!.step(ctx);
      if (s.kind === "op") {
        current[i] = s.next;
        return opStep(s.op, mixing(alive(current, live), undefined));
      }
      if (s.kind === "done") {
        live.delete(i);
      } else {
        current[i] = s.next;
        wake = Math.min(wake, s.untilMs);
      }
    }
    return live.size === 0 ? DONE : sleepStep(wake, mixing(alive(current, live), wake));
  });
}

function alive(current: readonly Generator[], live: ReadonlySet<number>): Generator[] {
  return current.filter((_, i) => live.has(i));
}

/** limit(n, g): g's first n ops, then done. */
export function limit(n: number, g: Generator): Generator {
  return gen((ctx) => {
    if (n <= 0) return DONE;
    const s = g.step(ctx);
    if (s.kind === "done") return DONE;
    return withNext(s, limit(s.kind === "op" ? n - 1 : n, s.next));
  });
}

/** map(fn, g): g's ops, each transformed by fn. */
export function map(fn: (op: GenOp, ctx: GenContext) => GenOp, g: Generator): Generator {
  return gen((ctx) => {
    const s = g.step(ctx);
    if (s.kind === "done") return DONE;
    return s.kind === "op" ? opStep(fn(s.op, ctx), map(fn, s.next)) : sleepStep(s.untilMs, map(fn, s.next));
  });
}

/** sleep(ms): no ops; done `ms` after its first step. */
export function sleep(ms: number): Generator {
  return gen((ctx) => (ms <= 0 ? DONE : sleepUntil(ctx.nowMs + ms).step(ctx)));
}

/** sleepUntil(t): no ops; done once the clock reaches t. */
export function sleepUntil(untilMs: number): Generator {
  const self: Generator = gen((ctx) => (ctx.nowMs < untilMs ? sleepStep(untilMs, self) : DONE));
  return self;
}

/** delay(ms, g): g's ops at least `ms` apart (the first at once). */
export function delay(ms: number, g: Generator): Generator {
  return paced(g, () => ms, undefined);
}

/** stagger(ms, g): g's ops, each after a random pause uniform on [0, 2·ms) (mean ms) since the previous one. */
export function stagger(ms: number, g: Generator): Generator {
  return gen((ctx) =>
    paced(g, (random) => random.float() * 2 * ms, ctx.nowMs + ctx.random.float() * 2 * ms).step(ctx),
  );
}

/** Ops of g no earlier than `dueMs`; after each op, the next is due `gap()` later. */
function paced(g: Generator, gap: (random: Random) => number, dueMs: number | undefined): Generator {
  return gen((ctx) => {
    if (dueMs !== undefined && ctx.nowMs < dueMs) return sleepStep(dueMs, paced(g, gap, dueMs));
    const s = g.step(ctx);
    if (s.kind === "done") return DONE;
    if (s.kind === "sleep") return sleepStep(s.untilMs, paced(g, gap, dueMs));
    return opStep(s.op, paced(s.next, gap, ctx.nowMs + gap(ctx.random)));
  });
}

/** timeLimit(ms, g): g until `ms` after timeLimit's first step, then done (a sleep past that is cut short). */
export function timeLimit(ms: number, g: Generator): Generator {
  return gen((ctx) => deadline(ctx.nowMs + ms, g).step(ctx));
}

/** deadline(t, g): g until the clock reaches t, then done. */
export function deadline(atMs: number, g: Generator): Generator {
  return gen((ctx) => {
    if (ctx.nowMs >= atMs) return DONE;
    const s = g.step(ctx);
    if (s.kind === "done") return DONE;
    if (s.kind === "sleep") return sleepStep(Math.min(s.untilMs, atMs), deadline(atMs, s.next));
    return opStep(s.op, deadline(atMs, s.next));
  });
}

// --- the nemesis -----------------------------------------------------------------------------------------

export type NemesisPhase = "inject" | "heal";

/** The fields of a chaos/nemesis Fault that scheduling needs (a Fault satisfies it). */
export interface FaultSchedule {
  readonly name: string;
  /** Shortest time between inject and heal for the fault to mean something. */
  readonly minDurationMs?: number;
}

export interface NemesisCycleOptions {
  /** Mean quiet time from a heal to the next inject: uniform on [intervalMs/2, 3·intervalMs/2). */
  readonly intervalMs: number;
  /** How long each fault is held, from its inject's completion; a fault's longer minDurationMs wins. Default intervalMs. */
  readonly minDurationMs?: number;
}

/** The op of a fault's inject or heal. */
export function nemesisOp(fault: string, phase: NemesisPhase): GenOp {
  return { f: fault, value: { phase } };
}

/** The phase a nemesis op's value (its arguments or its result) names; undefined for any other value. */
export function nemesisPhase(value: unknown): NemesisPhase | undefined {
  const phase =
    typeof value === "object" && value !== null ? (value as { phase?: unknown }).phase : undefined;
  return phase === "inject" || phase === "heal" ? phase : undefined;
}

/**
 * nemesisCycle(faults, options): rounds forever; each round takes every fault once, in a random order: a quiet
 * pause, inject, hold for max(minDurationMs, the fault's minDurationMs), heal. One fault at a time. Done at
 * once when there are no faults. Under a time limit it may stop between inject and heal: finish with healAll.
 */
export function nemesisCycle(faults: readonly FaultSchedule[], options: NemesisCycleOptions): Generator {
  if (faults.length === 0) return done;
  const base = options.minDurationMs ?? options.intervalMs;
  const quiet = gen((ctx) =>
    sleep(ctx.random.between(options.intervalMs / 2, (options.intervalMs * 3) / 2)).step(ctx),
  );
  const round: Generator = gen((ctx) =>
    seq(
      ...ctx.random
        .shuffle(faults)
        .map((fault) =>
          seq(
            quiet,
            once(nemesisOp(fault.name, "inject")),
            sleep(Math.max(base, fault.minDurationMs ?? 0)),
            once(nemesisOp(fault.name, "heal")),
          ),
        ),
      round,
    ).step(ctx),
  );
  return round;
}

/** healAll(faults): one heal op per fault, in order (the final healing phase; heals are idempotent). */
export function healAll(faults: readonly string[]): Generator {
  return seq(...faults.map((fault) => once(nemesisOp(fault, "heal"))));
}

/**
 * The faults a history leaves possibly in effect: injected (invoked, and not failed) with no successful heal
 * after, in order of injection. Feed it to healAll.
 */
export function openFaults(ops: readonly Op[]): string[] {
  const open = new Set<string>();
  for (const { invoke, completion } of pairs(ops.filter((op) => op.process === "nemesis"))) {
    const phase = nemesisPhase(invoke.value);
    // An inject whose outcome is unknown (info, or still in flight) may have taken effect.
    if (phase === "inject" && completion?.type !== "fail") {
      open.delete(invoke.f);
      open.add(invoke.f);
    }
    if (phase === "heal" && completion?.type === "ok") open.delete(invoke.f);
  }
  return [...open];
}

// --- running without a cluster -----------------------------------------------------------------------------

export interface SimulatedOp {
  readonly atMs: number;
  readonly op: GenOp;
}

export interface SimulateOptions {
  readonly startMs?: number;
  /** How long each op takes before the generator is stepped again (default 0). */
  readonly opMs?: number;
  /** Stop after this many ops (default 10 000). */
  readonly maxOps?: number;
}

/**
 * Steps `g` on a simulated clock, one op at a time (as the nemesis runs): an op takes `opMs`, a sleep jumps to
 * its end. For tests and dry runs: the schedule a seed gives, without a cluster.
 */
export function simulate(
  g: Generator,
  random: Random,
  options: SimulateOptions = {},
): { readonly ops: SimulatedOp[]; readonly endMs: number; readonly done: boolean } {
  const maxOps = options.maxOps ?? 10_000;
  const ops: SimulatedOp[] = [];
  let nowMs = options.startMs ?? 0;
  let current = g;
  // A sleep always moves the clock forward; the step bound only guards against a generator that breaks that.
  for (let steps = 0; ops.length < maxOps && steps < maxOps * 1000; steps++) {
    const s = current.step({ nowMs, random });
    if (s.kind === "done") return { ops, endMs: nowMs, done: true };
    if (s.kind === "op") {
      ops.push({ atMs: nowMs, op: s.op });
      nowMs += options.opMs ?? 0;
    } else {
      nowMs = Math.max(nowMs, s.untilMs);
    }
    current = s.next;
  }
  return { ops, endMs: nowMs, done: false };
}
