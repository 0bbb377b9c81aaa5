// One chaos run (Jepsen's `run!`): a local cluster built for the chosen faults, the workload's clients and the
// nemesis stepping their generators side by side until the time limit, a final healing phase, the workload's
// final reads, then every checker over the history, the processes' events and the final state. Everything it
// saw goes to the output directory (artefacts.ts) so that a failing run can be read and replayed: the seed
// fixes every random choice the harness makes. How generators become operations: drive.ts; what is read at
// the end: final-state.ts.
import { mkdir } from "node:fs/promises";
import { ClusterClient } from "../src/client/cluster-client.ts";
import { monotonicNow, sleep } from "../src/common/clock.ts";
import { silentLogger } from "../src/common/logger.ts";
import { UNSAFE_ENV } from "../src/config/environment.ts";
import { compileHaConfig } from "../src/config/ha-config.ts";
import { disableStoreFencingForTests, restoreStoreFencingForTests } from "../src/ha/test-switches.ts";
import { type OpCounts, recordHistory, writeArtefacts } from "./artefacts.ts";
import { checkersFor, compose } from "./checkers/index.ts";
import { driveClients, healNotBefore, nemesisDriver } from "./drive.ts";
import { type FailoverRow, failoverStats } from "./failover-stats.ts";
import { clusterEvents, readFinalState } from "./final-state.ts";
import { healAll, nemesisCycle, nemesisPhase, openFaults, timeLimit } from "./generator.ts";
import { History } from "./history.ts";
import { ChaosCluster, type Fault, faultsFor, requirementsOf } from "./nemesis/index.ts";
import { Random } from "./random.ts";
import type { CheckBounds, Validity, Verdict } from "./types.ts";
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
  readonly ops: OpCounts;
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
  const closeHistory = recordHistory(history, options.out);

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
    const clients = timeLimit(options.timeLimitMs, workload.generator(options.timeLimitMs));
    const nemesisRandom = random.fork("nemesis");
    const nemesisGen = timeLimit(
      options.timeLimitMs,
      nemesisCycle(faults, { intervalMs: options.nemesisIntervalMs }),
    );
    const byName = new Map(faults.map((f) => [f.name, f]));
    const nemesis = nemesisDriver(
      { cluster, faults: byName, history, progress: options.progress },
      { now, random: nemesisRandom, signal },
    );
    const workers = driveClients(clients, workload, ctx, history, now);
    await Promise.all([nemesis(nemesisGen), ...workers]);

    phase = "healing";
    const open = openFaults(history.ops());
    options.progress(`time limit reached; healing ${open.length === 0 ? "(nothing open)" : open.join(", ")}`);
    const heldUntil = healNotBefore(history, open, byName, options.nemesisIntervalMs);
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
    const final = await readFinalState(options.backend, cluster, client, finish.outputs);
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
      .filter((o) => o.process === "nemesis" && o.type === "ok" && nemesisPhase(o.value) === "inject").length;
    const { out, backend, nemesis: nemeses, seed, command } = options;
    const reportPath = await writeArtefacts(
      { out, workload: workload.name, backend, nemesis: nemeses, seed, command },
      history,
      events,
      { overall, verdicts, failover, faultsInjected, ops, final, bounds },
    );
    return { overall, verdicts, failover, faultsInjected, ops, reportPath };
  } finally {
    clearInterval(ticker);
    await closeHistory();
  }
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

function countOps(history: History): ChaosResult["ops"] {
  const ops = history.ops().filter((o) => o.process !== "nemesis");
  return {
    ok: ops.filter((o) => o.type === "ok").length,
    fail: ops.filter((o) => o.type === "fail").length,
    info: ops.filter((o) => o.type === "info").length,
  };
}

function progressLine(phase: string, nowMs: number, history: History, cluster: ChaosCluster): string {
  const ops = history.ops();
  const client = ops.filter((o) => o.process !== "nemesis");
  const injected = ops.filter(
    (o) => o.process === "nemesis" && o.type === "invoke" && nemesisPhase(o.value) === "inject",
  );
  const leader = cluster.leader();
  return (
    `[${(nowMs / 1000).toFixed(1)} s] ${phase} | faults ${injected.length} | ops ` +
    `${client.filter((o) => o.type === "ok").length} ok, ${client.filter((o) => o.type === "fail").length} fail, ` +
    `${client.filter((o) => o.type === "info").length} info | leader ` +
    (leader ? `${leader.member.name} epoch ${leader.epoch}` : "none")
  );
}
