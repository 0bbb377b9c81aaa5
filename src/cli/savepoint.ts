// vigil savepoint and vigil stop: a savepoint of a running job into a directory of its own (Flink's
// `flink savepoint` and `flink stop --savepointPath`). The leader writes the savepoint; the path it prints is
// what `vigil run APP --from-savepoint PATH` takes. Stop-with-savepoint stops the sources after the
// savepoint's barrier, so the job ends FINISHED with its sinks committed up to exactly that point.
import { resolve } from "node:path";
import { ConfigError } from "../common/errors.ts";
import type { SavepointResponse } from "../generated/records.ts";
import type { Command, Flags } from "./args.ts";
import type { ClusterClient } from "../client/cluster-client.ts";
import {
  type ClusterTarget,
  clusterFlags,
  clusterFlagsHelp,
  clusterTargetFrom,
  positionalsOf,
  withCluster,
} from "./cluster-flags.ts";
import { followJob } from "./follow-job.ts";
import { stateName } from "./job-format.ts";
import { emit } from "./output.ts";

/** A savepoint waits for a checkpoint to go through the whole job: more than a plain call's 10 s. */
const SAVEPOINT_TIMEOUT_SECONDS = "60";

const savepointFlags: Flags = {
  ...clusterFlags,
  timeout: {
    type: "string",
    value: "SECONDS",
    help: "give up waiting for the savepoint after this (the job's checkpoint timeout bounds it too)",
    default: SAVEPOINT_TIMEOUT_SECONDS,
  },
  dir: {
    type: "string",
    value: "DIR",
    help: "directory the savepoint goes into (it becomes a new directory inside); default: the JobManagers' --savepoint-dir",
  },
  json: { type: "boolean", help: 'print {"jobId":…,"path":…,"checkpointId":…} instead of sentences' },
  help: { type: "boolean", help: "show this help" },
};

const pathHelp = [
  "The savepoint is a directory (a _metadata file and the state files) that belongs to you: vigil never",
  "deletes it. It is self-contained: move or copy it freely. --dir is read by the leader JobManager, so it",
  "must be a directory the JobManagers can write (a relative --dir is taken relative to this shell).",
].join("\n");

export const savepointCommand: Command = {
  name: "savepoint",
  summary: "take a savepoint of a running job; print its path",
  usage:
    "vigil savepoint JOB [--dir DIR] (--jobmanager HOST:PORT[,…] | --ha etcd|zookeeper --ha-endpoints HOST:PORT[,…] --cluster-id C) [--json]",
  flags: savepointFlags,
  details: [
    clusterFlagsHelp,
    "",
    "Prints `savepoint of job JOB: PATH` once the savepoint is complete; the job keeps running. Start a new",
    "job from it with `vigil run APP --from-savepoint PATH`. Only a RUNNING job with checkpointing on takes",
    "savepoints; a plain savepoint does not commit the sinks' output (the next checkpoint does).",
    "",
    pathHelp,
    "",
    "Examples:",
    "  vigil savepoint 7f3a9c2e --jobmanager 127.0.0.1:6123",
    "  vigil savepoint 7f3a9c2e --dir /backups/vigil --ha etcd --ha-endpoints 127.0.0.1:2379 --cluster-id dev",
  ].join("\n"),
  run: async (values, positionals) => {
    const [jobId] = positionalsOf(positionals, ["JOB"], "savepoint") as [string];
    const target = savepointTarget(values, "savepoint");
    const targetDirectory = directoryFlag(values.dir);
    const answer = await withCluster(target, (client) =>
      client.triggerSavepoint({ jobId, targetDirectory }, target.call),
    );
    report(jobId, answer, values.json === true);
    return 0;
  },
};

export const stopCommand: Command = {
  name: "stop",
  summary: "stop a job with a savepoint: sources stop, sinks commit, the job ends FINISHED",
  usage:
    "vigil stop JOB --savepoint [--dir DIR] (--jobmanager HOST:PORT[,…] | --ha etcd|zookeeper --ha-endpoints HOST:PORT[,…] --cluster-id C) [--json]",
  flags: {
    ...savepointFlags,
    savepoint: {
      type: "boolean",
      help: "required: stopping always takes a savepoint (vigil cancel does not)",
    },
  },
  details: [
    clusterFlagsHelp,
    "",
    "The sources emit nothing after the savepoint's barrier; once the savepoint is complete the sinks commit",
    "everything before it and the job ends FINISHED. Prints `savepoint of job JOB: PATH`, then follows the job",
    "to its end and prints `job JOB: FINISHED`. `vigil run APP --from-savepoint PATH` continues exactly where",
    "it stopped: no record is lost or written twice. If the savepoint fails, the job keeps running (exit 1).",
    "",
    pathHelp,
    "",
    "Examples:",
    "  vigil stop 7f3a9c2e --savepoint --jobmanager 127.0.0.1:6123",
    "  vigil stop 7f3a9c2e --savepoint --dir /backups/vigil --ha zookeeper --ha-endpoints zk1:2181 --cluster-id prod",
  ].join("\n"),
  run: async (values, positionals) => {
    const [jobId] = positionalsOf(positionals, ["JOB"], "stop") as [string];
    if (values.savepoint !== true) {
      throw new ConfigError(
        "vigil stop always takes a savepoint: pass --savepoint (to end a job without one, use vigil cancel)",
      );
    }
    const target = savepointTarget(values, "stop");
    const targetDirectory = directoryFlag(values.dir);
    const json = values.json === true;
    return withCluster(target, async (client) => {
      const answer = await client.stopJob({ jobId, targetDirectory }, target.call);
      report(jobId, answer, json);
      const state = await followToEnd(client, jobId, target);
      if (json) emit({ jobId, state });
      else process.stdout.write(`job ${jobId}: ${state}\n`);
      return state === "FINISHED" ? 0 : 1;
    });
  },
};

function savepointTarget(
  values: Record<string, string | boolean | undefined>,
  command: string,
): ClusterTarget {
  return clusterTargetFrom({ ...values, timeout: values.timeout ?? SAVEPOINT_TIMEOUT_SECONDS }, command);
}

/** Absolute, as the leader must read it; "" lets the leader choose. */
function directoryFlag(value: string | boolean | undefined): string {
  if (value === undefined) return "";
  if (typeof value !== "string" || value === "") throw new ConfigError("--dir: give a directory");
  return resolve(value);
}

function report(jobId: string, answer: SavepointResponse, json: boolean): void {
  if (json) emit({ jobId, path: answer.path, checkpointId: answer.checkpointId });
  else process.stdout.write(`savepoint of job ${jobId}: ${answer.path}\n`);
}

/** The stopped job's final state, with progress on stderr while its tasks end. */
async function followToEnd(client: ClusterClient, jobId: string, target: ClusterTarget): Promise<string> {
  const signal = AbortSignal.timeout(target.call.timeoutMs ?? 60_000);
  const details = await followJob(jobId, {
    getJob: (id, options) => client.getJob({ jobId: id }, options),
    onPoll: (poll) => {
      if (!("details" in poll)) process.stderr.write(`job ${jobId}: ${poll.problem}\n`);
    },
    signal,
  });
  return stateName(details.summary!.state);
}
