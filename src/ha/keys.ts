// The key layout, in one place (DESIGN.md §3). Keys handed to a StateHandleStore are relative to the cluster
// namespace; backends prefix them with clusterRoot(). Both etcd keys and znode paths use this layout.
//
//   /vigil/<cluster>/elections/<election>/campaign/<id>   etcd campaign keys (id = lease id)
//   /vigil/<cluster>/elections/<election>/latch/<seq>     ZooKeeper latch nodes (protected, sequential)
//   /vigil/<cluster>/elections/<election>/leader          published LeaderInformation (lives with the session)
//   /vigil/<cluster>/jobgraphs/<job>                      JobGraphRecord
//   /vigil/<cluster>/jobs/<job>/checkpoints/<id>          CheckpointPointer (id zero-padded to 20 digits)
//   /vigil/<cluster>/jobs/<job>/checkpoint-counter        CheckpointCounter
//   /vigil/<cluster>/job-results/<job>                    JobResult
//   /vigil/<cluster>/taskmanagers                         TaskManagerRegistry (workers a leader deployed to)
import { ConfigError } from "../common/errors.ts";

/** The JobManagers' election. Diagnostic contenders (`vigil elect`) default to "diagnostic". */
export const JOBMANAGER_ELECTION = "jobmanager";
export const DIAGNOSTIC_ELECTION = "diagnostic";

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Validates one path segment (cluster id, election name, job id); the message names `what`. */
export function segment(value: string, what: string): string {
  if (!SEGMENT.test(value)) {
    throw new ConfigError(
      `${what}: ${JSON.stringify(value)} is invalid; use 1-128 letters, digits, '.', '_' or '-'`,
    );
  }
  return value;
}

export function clusterRoot(clusterId: string): string {
  return `/vigil/${segment(clusterId, "cluster id")}`;
}

export function electionRoot(clusterId: string, election: string): string {
  return `${clusterRoot(clusterId)}/elections/${segment(election, "election name")}`;
}

export function leaderKey(clusterId: string, election: string): string {
  return `${electionRoot(clusterId, election)}/leader`;
}

export const storeKeys = {
  jobGraphs: "jobgraphs",
  jobGraph: (job: string) => `jobgraphs/${segment(job, "job id")}`,
  checkpoints: (job: string) => `jobs/${segment(job, "job id")}/checkpoints`,
  checkpoint: (job: string, id: bigint) =>
    `jobs/${segment(job, "job id")}/checkpoints/${id.toString().padStart(20, "0")}`,
  checkpointCounter: (job: string) => `jobs/${segment(job, "job id")}/checkpoint-counter`,
  jobResults: "job-results",
  jobResult: (job: string) => `job-results/${segment(job, "job id")}`,
  taskManagerRegistry: "taskmanagers",
} as const;
