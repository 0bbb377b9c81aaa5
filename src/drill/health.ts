// Whether a cluster may be drilled now, and what it looks like: the published leader and its process on this
// host, a standby to take over, the jobs that run, and TaskManagers to run them. Every problem is a sentence
// that says what is wrong and how to fix it; all of them are collected, not just the first.
import type { ClusterClient } from "../client/cluster-client.ts";
import { stateName } from "../cli/job-format.ts";
import type { HaConfig } from "../config/ha-config.ts";
import type { LeaderInfo } from "../ha/election-driver.ts";
import { cmdlineOf } from "../local/proc.ts";
import { type JobManagerProcess, scanJobManagers } from "./jobmanagers.ts";
import { captureLaunch, type LaunchSpec } from "./launch.ts";
import type { LeaderWatch } from "./leader-watch.ts";
import { ownerOfPort } from "./proc-net.ts";

export interface ClusterState {
  readonly leader: LeaderInfo;
  readonly leaderProcess: JobManagerProcess;
  /** How the leader was started, read before anything is stopped; undefined when the drill only pauses it. */
  readonly leaderLaunch: LaunchSpec | undefined;
  /** The cluster's JobManager processes on this host, the leader's included. */
  readonly jobmanagers: readonly JobManagerProcess[];
  /** Ids of the jobs RUNNING now. */
  readonly running: readonly string[];
  readonly taskmanagers: number;
}

export type Health = { readonly state: ClusterState } | { readonly problems: readonly string[] };

/** States of a job that should be RUNNING on a healthy cluster; terminal and cancelling jobs are left alone. */
const SHOULD_RUN = new Set(["CREATED", "RESTARTING"]);

export async function checkHealth(
  ha: HaConfig,
  watch: LeaderWatch,
  client: ClusterClient,
  options: { readonly needLaunch: boolean; readonly callTimeoutMs: number; readonly signal: AbortSignal },
): Promise<Health> {
  const problems: string[] = [];
  const cluster = `cluster ${ha.clusterId}`;
  const all = scanJobManagers();
  const jobmanagers = all.filter((p) => p.clusterId === ha.clusterId);
  if (jobmanagers.length < 2) {
    const pids = jobmanagers.length ? ` (pid ${jobmanagers.map((p) => p.pid).join(", ")})` : "";
    const unknown = all.filter((p) => p.unknown !== undefined).map((p) => p.unknown);
    problems.push(
      `${jobmanagers.length} JobManager process(es) of ${cluster} run on this host${pids}; a drill needs at ` +
        "least 2 here, so that a standby takes over: start another `vigil jobmanager` with the same cluster id" +
        (unknown.length ? ` (some JobManagers could not be told apart: ${unknown.join("; ")})` : ""),
    );
  }
  const leader = watch.current;
  if (!leader) {
    const where = `${ha.backend} at ${ha.endpoints.join(",")}`;
    problems.push(
      `no JobManager leader is published for ${cluster} in ${where}: is the cluster running? ` +
        "Check --ha-endpoints and --cluster-id (`vigil leader` shows what is published)",
    );
    return { problems };
  }
  const who = `the leader ${leader.name} (epoch ${leader.epoch}) at ${leader.address}`;
  const leaderProcess = findLeaderProcess(leader, who, jobmanagers, problems);
  let leaderLaunch: LaunchSpec | undefined;
  if (leaderProcess && options.needLaunch) {
    try {
      leaderLaunch = captureLaunch(leaderProcess.pid);
    } catch (e: unknown) {
      problems.push((e as Error).message);
    }
  }
  let running: string[] = [];
  let taskmanagers = 0;
  try {
    const overview = await client.clusterOverview(
      {},
      { timeoutMs: options.callTimeoutMs, signal: options.signal },
    );
    if (overview.leader && overview.leader.epoch !== leader.epoch) {
      problems.push(
        `leadership is changing (published epoch ${leader.epoch}, answered by epoch ${overview.leader.epoch}): ` +
          "retry once it settles",
      );
    }
    for (const job of overview.jobs) {
      const state = stateName(job.state);
      if (SHOULD_RUN.has(state)) {
        problems.push(
          `job ${job.jobId} (${job.name}) is ${state}, not RUNNING: wait until it runs (vigil list) or ` +
            `cancel it (vigil cancel ${job.jobId}), then retry`,
        );
      }
    }
    running = overview.jobs.filter((j) => stateName(j.state) === "RUNNING").map((j) => j.jobId);
    taskmanagers = overview.taskmanagers.length;
    if (taskmanagers === 0) {
      problems.push(`no TaskManager is registered with ${who}: start TaskManagers (vigil taskmanager) first`);
    }
  } catch (e: unknown) {
    problems.push(`${who} does not answer ClusterOverview: ${(e as Error).message}`);
  }
  if (problems.length > 0 || !leaderProcess) return { problems };
  return { state: { leader, leaderProcess, leaderLaunch, jobmanagers, running, taskmanagers } };
}

/** The JobManager process listening on the leader's port, or undefined with a problem that says why not. */
function findLeaderProcess(
  leader: LeaderInfo,
  who: string,
  jobmanagers: readonly JobManagerProcess[],
  problems: string[],
): JobManagerProcess | undefined {
  const port = Number(/:(\d+)$/.exec(leader.address)?.[1]);
  if (!Number.isInteger(port) || port <= 0) {
    problems.push(`${who}: the published address has no port; is it a vigil JobManager?`);
    return undefined;
  }
  const owner = ownerOfPort(
    port,
    jobmanagers.map((p) => p.pid),
  );
  const onItsHost = "run vigil drill on the leader's host";
  if (!owner.listening) {
    problems.push(`${who}: nothing on this host listens on port ${port}; ${onItsHost}`);
    return undefined;
  }
  if (owner.pid === undefined) {
    problems.push(
      `${who}: port ${port} is held by a process whose file descriptors I cannot read ` +
        `(${owner.unreadable} unreadable); run vigil drill as the JobManagers' user or as root`,
    );
    return undefined;
  }
  const process = jobmanagers.find((p) => p.pid === owner.pid);
  if (!process) {
    problems.push(
      `${who}: port ${port} is held by pid ${owner.pid} (${cmdlineOf(owner.pid) ?? "gone"}), which is not a ` +
        `JobManager of this cluster that I can see; is the JobManager in a container? ${onItsHost}`,
    );
  }
  return process;
}
