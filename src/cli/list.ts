// vigil list: every job the leader knows (stored, running and terminal), as a table or as JSON.
import type { Command } from "./args.ts";
import {
  clusterFlags,
  clusterFlagsHelp,
  clusterTargetFrom,
  positionalsOf,
  withCluster,
} from "./cluster-flags.ts";
import { jobJson, jobsTable } from "./job-format.ts";
import { emit } from "./output.ts";

export const listCommand: Command = {
  name: "list",
  summary: "list the cluster's jobs with their state, tasks and restarts",
  usage:
    "vigil list (--jobmanager HOST:PORT[,…] | --ha etcd|zookeeper --ha-endpoints HOST:PORT[,…] --cluster-id C) [--json]",
  flags: {
    ...clusterFlags,
    json: { type: "boolean", help: "print one JSON object instead of a table" },
    help: { type: "boolean", help: "show this help" },
  },
  details: [
    clusterFlagsHelp,
    "",
    "Table columns: JOB ID, NAME, STATE, TASKS (running/total), RESTARTS (under the current leader).",
    'With --json: {"jobs":[{"id":…,"name":…,"state":"RUNNING","tasks":4,"runningTasks":4,"restarts":0,',
    '"submittedAtMs":"…","error":…}],"epoch":"…"} (states without the JOB_STATE_ prefix; epoch of the leader',
    "that answered; 64-bit numbers as decimal strings).",
    "",
    "Examples:",
    "  vigil list --jobmanager 127.0.0.1:6123",
    "  vigil list --ha etcd --ha-endpoints 127.0.0.1:2379 --cluster-id dev --json",
  ].join("\n"),
  run: async (values, positionals) => {
    positionalsOf(positionals, [], "list");
    const target = clusterTargetFrom(values, "list");
    const answer = await withCluster(target, (client) => client.listJobs({}, target.call));
    if (values.json === true) emit({ jobs: answer.jobs.map(jobJson), epoch: answer.epoch });
    else process.stdout.write(jobsTable(answer.jobs));
    return 0;
  },
};
