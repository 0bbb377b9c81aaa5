// vigil overview: the leader, its TaskManagers with their slots, and its jobs, in one answer of the leader.
import type { Command } from "./args.ts";
import {
  clusterFlags,
  clusterFlagsHelp,
  clusterTargetFrom,
  positionalsOf,
  withCluster,
} from "./cluster-flags.ts";
import { overviewJson, overviewText } from "./job-format.ts";
import { emit } from "./output.ts";

export const overviewCommand: Command = {
  name: "overview",
  summary: "show the leader, the TaskManagers and their slots, and the jobs",
  usage:
    "vigil overview (--jobmanager HOST:PORT[,…] | --ha etcd|zookeeper --ha-endpoints HOST:PORT[,…] --cluster-id C) [--json]",
  flags: {
    ...clusterFlags,
    json: { type: "boolean", help: "print one JSON object instead of a summary" },
    help: { type: "boolean", help: "show this help" },
  },
  details: [
    clusterFlagsHelp,
    "",
    "With --json, one object (64-bit numbers as decimal strings, states without the JOB_STATE_ prefix):",
    '  {"leader":{"name":…,"address":…,"epoch":"…"} or null,',
    '   "taskmanagers":[{"id":…,"address":…,"slots":2,"freeSlots":1}],',
    '   "jobs":[{"id":…,"name":…,"state":"RUNNING","tasks":2,"runningTasks":2,"restarts":0,"submittedAtMs":"…"}]}',
    "",
    "Examples:",
    "  vigil overview --jobmanager 127.0.0.1:6123,127.0.0.1:6124",
    "  vigil overview --ha etcd --ha-endpoints 127.0.0.1:2379 --cluster-id dev --json",
  ].join("\n"),
  run: async (values, positionals) => {
    positionalsOf(positionals, [], "overview");
    const target = clusterTargetFrom(values, "overview");
    const answer = await withCluster(target, (client) => client.clusterOverview({}, target.call));
    if (values.json === true) emit(overviewJson(answer));
    else process.stdout.write(overviewText(answer));
    return 0;
  },
};
