// Turning a run's generators into operations (Jepsen's interpreter). Generators only say what to do and when;
// here they are stepped, their sleeps slept and their ops performed, each recorded in the history as an
// invocation and its completion: the clients' ops by the workload, under the worker's process id; the
// nemesis's by injecting or healing a fault on the cluster, under "nemesis". Clients share one generator, so
// whichever worker is free takes the next op; the nemesis runs one fault op at a time.
import { sleep } from "../src/common/clock.ts";
import { describeCause } from "../src/common/errors.ts";
import { type Generator, nemesisPhase } from "./generator.ts";
import type { History, ProcessId } from "./history.ts";
import type { ChaosCluster, Fault } from "./nemesis/index.ts";
import type { Random } from "./random.ts";
import type { Workload, WorkloadContext } from "./workloads/workload.ts";

export interface DriveEnv {
  /** Ms on the run's monotonic clock (the history's `time` scale). */
  readonly now: () => number;
  readonly random: Random;
  readonly signal: AbortSignal;
}

/** One generator shared by several workers: whoever is free steps it (single-threaded, so no two at once). */
export function sharedGenerator(g: Generator): { current: Generator } {
  return { current: g };
}

/**
 * Steps a generator (shared or not) and runs each op with `perform`, one at a time for this caller; sleeps as
 * told; returns when it is done or the signal aborts.
 */
export async function drive(
  g: Generator | { current: Generator },
  env: DriveEnv,
  perform: (op: { readonly f: string; readonly value?: unknown }) => Promise<void>,
): Promise<void> {
  const holder = "current" in g ? g : { current: g };
  while (!env.signal.aborted) {
    const step = holder.current.step({ nowMs: env.now(), random: env.random });
    if (step.kind === "done") return;
    holder.current = step.next;
    if (step.kind === "sleep") {
      const wait = step.untilMs - env.now();
      if (wait > 0) await sleep(wait, env.signal).catch(() => {});
      continue;
    }
    await perform(step.op);
  }
}

export interface NemesisParts {
  readonly cluster: ChaosCluster;
  readonly faults: ReadonlyMap<string, Fault>;
  readonly history: History;
  readonly progress: (line: string) => void;
}

/** Returns a runner of nemesis generators: each op injects or heals its fault; resolves when `g` is done. */
export function nemesisDriver(parts: NemesisParts, env: DriveEnv): (g: Generator) => Promise<void> {
  const { cluster, faults, history, progress } = parts;
  const { random, signal } = env;
  return (g) =>
    drive(g, env, async (op) => {
      const fault = faults.get(op.f)!;
      const phaseOf = nemesisPhase(op.value);
      const invocation = history.invoke("nemesis", op.f, op.value);
      try {
        const nctx = { cluster, random, signal };
        const info = phaseOf === "inject" ? await fault.inject(nctx) : await fault.heal(nctx);
        invocation.ok({ phase: phaseOf, ...info });
        progress(`${phaseOf === "inject" ? "injected" : "healed"} ${op.f}: ${JSON.stringify(info)}`);
      } catch (e: unknown) {
        // Whether an inject that threw took effect is unknown: the final heal covers it either way.
        invocation.info(e, { phase: phaseOf });
        progress(`${op.f} ${phaseOf} failed: ${describeCause(e)}`);
      }
    });
}

/**
 * Runs `workload.clients` workers over one shared generator until it is done; each op is performed by the
 * workload and its outcome recorded as ok, fail or info (unknown).
 */
export function driveClients(
  g: Generator,
  workload: Workload,
  ctx: WorkloadContext,
  history: History,
  now: () => number,
): Promise<void>[] {
  const clients = sharedGenerator(g);
  return Array.from({ length: workload.clients }, (_, i) =>
    drive(clients, { now, random: ctx.random, signal: ctx.signal }, async (op) => {
      const invocation = history.invoke(i as ProcessId, op.f, op.value);
      const c = await workload.perform(op, ctx);
      if (c.type === "ok") invocation.ok(c.value);
      else if (c.type === "fail") invocation.fail(c.error ?? "failed", c.value);
      else invocation.info(c.error ?? "outcome unknown", c.value);
    }),
  );
}

/**
 * When the final heal of the `open` faults may start. A fault injected just before the limit is still held as
 * long as it would have been, or it means nothing (a leader paused for less than its TTL is not a failover).
 */
export function healNotBefore(
  history: History,
  open: readonly string[],
  faults: ReadonlyMap<string, Fault>,
  intervalMs: number,
): number {
  return Math.max(0, ...open.map((name) => injectedAt(history, name) + holdMs(faults.get(name), intervalMs)));
}

/** When the last inject of `fault` completed (history time), or -Infinity. */
function injectedAt(history: History, fault: string): number {
  const ops = history.ops();
  for (let i = ops.length - 1; i >= 0; i--) {
    const op = ops[i]!;
    if (
      op.process === "nemesis" &&
      op.f === fault &&
      op.type !== "invoke" &&
      nemesisPhase(op.value) === "inject"
    ) {
      return op.time;
    }
  }
  return -Infinity;
}

/** How long nemesisCycle holds a fault. */
function holdMs(fault: Fault | undefined, intervalMs: number): number {
  return Math.max(intervalMs, fault?.minDurationMs ?? 0);
}
