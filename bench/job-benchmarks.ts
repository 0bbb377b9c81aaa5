// The two benchmarks of real JobManager / TaskManager processes, as run.ts drives them: each measures, prints
// its table on stdout and returns its RESULTS.md section with the servers and server versions it ran on.
import { TTL_SECONDS } from "./contestants.ts";
import { type JobFailoverResult, measureJobFailover } from "./jobs-failover.ts";
import { jobFailoverDetails, jobFailoverTable, scaleDetails, scaleTable } from "./report.ts";
import { JOB_RUNNING_TARGET_MS, jobFailoverSection, scaleSection } from "./sections.ts";
import { measureTaskManagerScale } from "./taskmanager-scale.ts";

export interface BenchmarkOutcome {
  readonly section: string;
  /** How the servers were started, for the head of RESULTS.md. */
  readonly servers: string;
  readonly versions: readonly string[];
}

export interface RunContext {
  readonly progress: (line: string) => void;
  readonly stopRequested: () => boolean;
  /** "Measured <date> with <command>. <load>" */
  readonly stamp: () => string;
}

export async function jobFailoverBenchmark(
  backends: readonly ("etcd" | "zookeeper")[],
  rounds: number,
  ctx: RunContext,
): Promise<BenchmarkOutcome> {
  const results: JobFailoverResult[] = [];
  for (const backend of backends) {
    if (ctx.stopRequested()) break;
    const result = await measureJobFailover(backend, {
      rounds,
      ttlSeconds: TTL_SECONDS,
      progress: ctx.progress,
      stopRequested: ctx.stopRequested,
    });
    if (result.error !== undefined) ctx.progress(`${backend} jobs-failover: stopped early: ${result.error}`);
    results.push(result);
  }
  const t = jobFailoverTable(results, JOB_RUNNING_TARGET_MS);
  process.stdout.write(
    `\nJob failover: SIGKILL the JobManager leader -> every task RUNNING again (TTL ${TTL_SECONDS} s)\n${t}\n`,
  );
  return {
    section: jobFailoverSection(t, jobFailoverDetails(results, JOB_RUNNING_TARGET_MS), ctx.stamp()),
    servers: `${backends
      .map((b) =>
        b === "etcd" ? "a private etcd single member" : "a private ZooKeeper standalone, tickTime 500 ms",
      )
      .join("; ")} per backend, started by LocalCluster`,
    versions: results.map((r) => r.serverVersion),
  };
}

export async function scaleBenchmark(
  o: {
    readonly counts: readonly number[];
    readonly windowMs: number;
    readonly connections: "own" | "shared";
  },
  ctx: RunContext,
): Promise<BenchmarkOutcome> {
  const result = await measureTaskManagerScale({
    ...o,
    ttlSeconds: TTL_SECONDS,
    progress: ctx.progress,
    stopRequested: ctx.stopRequested,
  });
  if (result.error !== undefined) ctx.progress(`taskmanager-scale: stopped early: ${result.error}`);
  const t = scaleTable(result);
  process.stdout.write(
    `\nTaskManager scale: simulated TaskManagers heartbeating one leader every second\n${t}\n`,
  );
  return {
    section: scaleSection(t, scaleDetails(result), ctx.stamp(), o.windowMs, o.connections),
    servers: "a private etcd single member on loopback, started by src/local",
    versions: [result.serverVersion],
  };
}
