// One chaos run (Jepsen's `run!`): a local cluster built for the chosen faults, the workload's clients and the
// nemesis stepping their generators side by side until the time limit, a final healing phase, the workload's
// final reads, then every checker over the history, the processes' events and the final state. Everything it
// saw goes to the output directory (history.jsonl, events.jsonl, verdict.json, report.html) so that a failing
// run can be read and replayed: the seed fixes every random choice the harness makes.
import { createWriteStream } from "node:fs";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ClusterClient } from "../src/client/cluster-client.ts";
import { monotonicNow, sleep } from "../src/common/clock.ts";
import { describeCause } from "../src/common/errors.ts";
import { silentLogger } from "../src/common/logger.ts";
import { UNSAFE_ENV } from "../src/config/environment.ts";
import { compileHaConfig } from "../src/config/ha-config.ts";
import { disableStoreFencingForTests, restoreStoreFencingForTests } from "../src/ha/test-switches.ts";
import { checkersFor, compose } from "./checkers/index.ts";
import { type FailoverRow, failoverStats, failoverTable } from "./failover-stats.ts";
import { type Generator, healAll, nemesisCycle, openFaults, timeLimit } from "./generator.ts";
import { History, type ProcessId } from "./history.ts";
import { ChaosCluster, type Fault, faultsFor, requirementsOf } from "./nemesis/index.ts";
import { Random } from "./random.ts";
import { renderReport } from "./report-html.ts";
import { listStoreKeys } from "./store-dump.ts";
import type { CheckBounds, ClusterEvent, FinalState, Validity, Verdict } from "./types.ts";
import { workloadFor } from "./workloads/index.ts";
import type { Workload, WorkloadContext } from "./workloads/workload.ts";

/** Test-only switches that break one safety mechanism each (the suite shows the checkers catch them). */
export type UnsafeSwitch = "disable-store-fencing" | "disable-zombie-guard" | "ack-before-store";
export const UNSAFE_SWITCHES: readonly UnsafeSwitch[] = [
  "disable-store-fencing",
  "disable-zombie-guard",
  "ack-before-store",
];

export interface ChaosOptions {
  readonly backend: "etcd" | "zookeeper";
  readonly workload: string;
  readonly nemesis: readonly string[];
  readonly timeLimitMs: number;
  readonly seed: string;
  /** Created if absent; every artefact of the run goes here. */
  readonly out: string;
  readonly jobmanagers: number;
  readonly taskmanagers: number;
  readonly ttlSeconds: number;
  /** Mean quiet time between a heal and the next fault. */
  readonly nemesisIntervalMs: number;
  readonly unsafe: readonly UnsafeSwitch[];
  /** The command line that reproduces this run (printed and put in the report). */
  readonly command: string;
  /** A progress line (the CLI prints it on stderr). */
  readonly progress: (line: string) => void;
}

export interface ChaosResult {
  readonly overall: Validity;
  readonly verdicts: readonly Verdict[];
  readonly failover: readonly FailoverRow[];
  readonly faultsInjected: number;
  readonly ops: { readonly ok: number; readonly fail: number; readonly info: number };
  readonly reportPath: string;
}

const PROGRESS_MS = 2_000;

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  await mkdir(options.out, { recursive: true });
  const ttlMs = options.ttlSeconds * 1_000;
  const random = new Random(options.seed);
  const faults = faultsFor(options.nemesis, { ttlMs });
  const workload = workloadFor(
    options.workload,
    `chaos-${random
      .fork("ids")
      .int(1 << 30)
      .toString(36)}`,
  );
  const needs = requirementsOf(faults);
  options.progress(
    `starting ${options.backend} (${needs.coordinatorMembers} member${needs.coordinatorMembers > 1 ? "s" : ""}), ` +
      `${options.jobmanagers} JobManagers, ${options.taskmanagers} TaskManagers; seed ${options.seed}`,
  );
  const cluster = await ChaosCluster.start({
    backend: options.backend,
    jobmanagers: options.jobmanagers,
    taskmanagers: options.taskmanagers,
    slots: workload.slotsPerTaskManager,
    ttlSeconds: options.ttlSeconds,
    coordinatorMembers: needs.coordinatorMembers,
    proxyCoordinator: needs.proxyCoordinator,
    env: { ...process.env, ...unsafeEnv(options.unsafe) },
  });
  const client = ClusterClient.viaHa(
    compileHaConfig({
      backend: options.backend,
      endpoints: cluster.local.endpoints,
      clusterId: cluster.local.clusterId,
    }),
    silentLogger,
  );
  const stop = new AbortController();
  // The nemesis's own stale writes (replay-stale-write) go out from this process: the switch applies here too.
  if (options.unsafe.includes("disable-store-fencing")) disableStoreFencingForTests();
  try {
    return await run(options, { cluster, client, faults, workload, random, ttlMs, signal: stop.signal });
  } finally {
    restoreStoreFencingForTests();
    stop.abort();
    await client.close();
    await cluster.stop();
  }
}

interface RunParts {
  readonly cluster: ChaosCluster;
  readonly client: ClusterClient;
  readonly faults: readonly Fault[];
  readonly workload: Workload;
  readonly random: Random;
  readonly ttlMs: number;
  readonly signal: AbortSignal;
}

async function run(options: ChaosOptions, parts: RunParts): Promise<ChaosResult> {
  const { cluster, client, faults, workload, random, ttlMs, signal } = parts;
  const history = new History();
  const origin = monotonicNow();
  const now = (): number => monotonicNow() - origin;
  const historyFile = createWriteStream(join(options.out, "history.jsonl"));
  history.onOp((op) => historyFile.write(JSON.stringify(op) + "\n"));

  const ctx: WorkloadContext = {
    client,
    scratch: options.out,
    random: random.fork("clients"),
    signal,
    progress: options.progress,
  };
  await workload.prepare?.(ctx, options.timeLimitMs);

  let phase = "running";
  const ticker = setInterval(
    () => options.progress(progressLine(phase, now(), history, cluster)),
    PROGRESS_MS,
  );
  try {
    const clients = sharedGenerator(timeLimit(options.timeLimitMs, workload.generator(options.timeLimitMs)));
    const nemesisRandom = random.fork("nemesis");
    const nemesisGen = timeLimit(
      options.timeLimitMs,
      nemesisCycle(faults, { intervalMs: options.nemesisIntervalMs }),
    );
    const byName = new Map(faults.map((f) => [f.name, f]));
    const nemesis = (g: Generator) =>
      drive(g, { now, random: nemesisRandom, signal }, async (op) => {
        const fault = byName.get(op.f)!;
        const phaseOf = (op.value as { phase: "inject" | "heal" }).phase;
        const invocation = history.invoke("nemesis", op.f, op.value);
        try {
          const nctx = { cluster, random: nemesisRandom, signal };
          const info = phaseOf === "inject" ? await fault.inject(nctx) : await fault.heal(nctx);
          invocation.ok({ phase: phaseOf, ...info });
          options.progress(
            `${phaseOf === "inject" ? "injected" : "healed"} ${op.f}: ${JSON.stringify(info)}`,
          );
        } catch (e: unknown) {
          // Whether an inject that threw took effect is unknown: the final heal covers it either way.
          invocation.info(e, { phase: phaseOf });
          options.progress(`${op.f} ${phaseOf} failed: ${describeCause(e)}`);
        }
      });
    const workers = Array.from({ length: workload.clients }, (_, i) =>
      drive(clients, { now, random: ctx.random, signal }, async (op) => {
        const invocation = history.invoke(i as ProcessId, op.f, op.value);
        const c = await workload.perform(op, ctx);
        if (c.type === "ok") invocation.ok(c.value);
        else if (c.type === "fail") invocation.fail(c.error ?? "failed", c.value);
        else invocation.info(c.error ?? "outcome unknown", c.value);
      }),
    );
    await Promise.all([nemesis(nemesisGen), ...workers]);

    phase = "healing";
    const open = openFaults(history.ops());
    options.progress(`time limit reached; healing ${open.length === 0 ? "(nothing open)" : open.join(", ")}`);
    // A fault injected just before the limit is still held as long as it would have been, or it means nothing
    // (a leader paused for less than its TTL is not a failover).
    const heldUntil = Math.max(
      0,
      ...open.map((name) => injectedAt(history, name) + holdMs(byName.get(name), options.nemesisIntervalMs)),
    );
    if (heldUntil > now()) await sleep(heldUntil - now(), signal);
    await nemesis(healAll(open));
    const settled = await cluster.settle({ timeoutMs: 4 * ttlMs + 20_000, signal });
    options.progress(
      settled
        ? `healed: leader ${settled.member.name} epoch ${settled.epoch}, every TaskManager registered`
        : "healed, but no leader with every TaskManager registered within the bound (the checkers judge it)",
    );

    phase = "final reads";
    const finish = await workload.finish(ctx, 90_000);
    await sleep(3_000, signal); // cleanups of jobs that just ended (I10 judges only those older than its bound)
    const final = await finalState(options, parts, finish.outputs);
    for (const open of history.open()) open.info("the run ended with the operation still open");

    phase = "checking";
    const events = clusterEvents(cluster);
    const bounds = boundsFor(ttlMs, workload);
    const { overall, verdicts } = compose(checkersFor())({
      history: history.ops(),
      events,
      final,
      bounds,
    });
    const failover = failoverStats(history.ops(), events);
    const ops = countOps(history);
    const faultsInjected = history
      .ops()
      .filter((o) => o.process === "nemesis" && o.type === "ok" && phaseIs(o.value, "inject")).length;
    await writeFile(join(options.out, "events.jsonl"), events.map((e) => JSON.stringify(e) + "\n").join(""));
    await writeFile(
      join(options.out, "verdict.json"),
      JSON.stringify(
        { overall, verdicts, failover, faultsInjected, ops, final, bounds, seed: options.seed },
        jsonBigint,
        2,
      ),
    );
    const reportPath = join(options.out, "report.html");
    await writeFile(
      reportPath,
      renderReport({
        title: `vigil chaos: ${workload.name} on ${options.backend}`,
        workload: workload.name,
        backend: options.backend,
        nemesis: options.nemesis,
        seed: options.seed,
        command: options.command,
        verdicts,
        overall,
        failover: failoverTable(failover),
        history: history.ops(),
        events,
        startedAt: history.startedAt,
        endedAt: final.at,
      }),
    );
    return { overall, verdicts, failover, faultsInjected, ops, reportPath };
  } finally {
    clearInterval(ticker);
    await new Promise<void>((resolve) => historyFile.end(resolve));
  }
}

/** One generator shared by several workers: whoever is free steps it (single-threaded, so no two at once). */
function sharedGenerator(g: Generator): { current: Generator } {
  return { current: g };
}

/**
 * Steps a generator (shared or not) and runs each op with `perform`, one at a time for this caller; sleeps as
 * told; returns when it is done or the signal aborts.
 */
async function drive(
  g: Generator | { current: Generator },
  env: { readonly now: () => number; readonly random: Random; readonly signal: AbortSignal },
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

/** When the last inject of `fault` completed (history time), or -Infinity. */
function injectedAt(history: History, fault: string): number {
  const ops = history.ops();
  for (let i = ops.length - 1; i >= 0; i--) {
    const op = ops[i]!;
    if (op.process === "nemesis" && op.f === fault && op.type !== "invoke" && phaseIs(op.value, "inject")) {
      return op.time;
    }
  }
  return -Infinity;
}

/** How long nemesisCycle holds a fault. */
function holdMs(fault: Fault | undefined, intervalMs: number): number {
  return Math.max(intervalMs, fault?.minDurationMs ?? 0);
}

function unsafeEnv(switches: readonly UnsafeSwitch[]): Record<string, string> {
  const env: Record<string, string> = {};
  if (switches.includes("disable-store-fencing")) env[UNSAFE_ENV.disableStoreFencing] = "1";
  if (switches.includes("disable-zombie-guard")) env[UNSAFE_ENV.disableZombieGuard] = "1";
  if (switches.includes("ack-before-store")) env[UNSAFE_ENV.ackBeforeStoreMs] = "1500";
  return env;
}

function boundsFor(ttlMs: number, workload: Workload): CheckBounds {
  return {
    ttlMs,
    recoveryMs: 4 * ttlMs + 15_000,
    cancelMs: 10_000,
    cleanupMs: 15_000,
    registrationMs: 2 * ttlMs + 10_000,
    checkpointIntervalMs: workload.checkpointIntervalMs,
    slackMs: 250,
  };
}

async function finalState(
  options: ChaosOptions,
  parts: RunParts,
  outputs: FinalState["outputs"],
): Promise<FinalState> {
  const { client, cluster } = parts;
  const jobs = await client
    .listJobs({}, { timeoutMs: 15_000 })
    .then((r) => r.jobs.map((j) => ({ job: j.jobId, state: j.state.replace(/^JOB_STATE_/, "") })))
    .catch(() => undefined);
  const storeKeys = await listStoreKeys(
    options.backend,
    cluster.coordinator.endpoints,
    cluster.local.clusterId,
  ).catch(() => undefined);
  const blobs = await readdir(join(cluster.local.storageDir, "blobs")).catch((e: unknown) =>
    (e as NodeJS.ErrnoException).code === "ENOENT" ? [] : undefined,
  );
  return { at: performance.timeOrigin + monotonicNow(), jobs, storeKeys, blobs, outputs };
}

/** Every event of every process, with its source, and an `exited` line for each process seen to end; by `at`. */
function clusterEvents(cluster: ChaosCluster): ClusterEvent[] {
  return cluster.local.members
    .flatMap((m) => {
      const events = m.proc.events.map((e) => ({ ...e, source: m.name, role: m.role }) as ClusterEvent);
      const exitedAt = cluster.local.exitedAt(m);
      if (exitedAt === undefined) return events;
      // exitedAt is Date.now(); events use timeOrigin + performance.now(): the same wall scale.
      return [...events, { event: "exited", at: exitedAt, source: m.name, role: m.role } as ClusterEvent];
    })
    .filter((e) => typeof e["at"] === "number" || typeof e["at"] === "string")
    .sort((a, b) => Number(a["at"]) - Number(b["at"]));
}

function countOps(history: History): ChaosResult["ops"] {
  const ops = history.ops().filter((o) => o.process !== "nemesis");
  return {
    ok: ops.filter((o) => o.type === "ok").length,
    fail: ops.filter((o) => o.type === "fail").length,
    info: ops.filter((o) => o.type === "info").length,
  };
}

function phaseIs(value: unknown, phase: string): boolean {
  return (value as { phase?: unknown } | undefined)?.phase === phase;
}

function progressLine(phase: string, nowMs: number, history: History, cluster: ChaosCluster): string {
  const ops = history.ops();
  const client = ops.filter((o) => o.process !== "nemesis");
  const injected = ops.filter(
    (o) => o.process === "nemesis" && o.type === "invoke" && phaseIs(o.value, "inject"),
  );
  const leader = cluster.leader();
  return (
    `[${(nowMs / 1000).toFixed(1)} s] ${phase} | faults ${injected.length} | ops ` +
    `${client.filter((o) => o.type === "ok").length} ok, ${client.filter((o) => o.type === "fail").length} fail, ` +
    `${client.filter((o) => o.type === "info").length} info | leader ` +
    (leader ? `${leader.member.name} epoch ${leader.epoch}` : "none")
  );
}

function jsonBigint(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
