// vigil cancel: cancels a job. The leader records the job as CANCELED before it answers, so once this prints
// CANCELED the job never runs again, across failovers too.
import type { Command } from "./args.ts";
import {
  clusterFlags,
  clusterFlagsHelp,
  clusterTargetFrom,
  positionalsOf,
  withCluster,
} from "./cluster-flags.ts";
import { stateName } from "./job-format.ts";
import { emit } from "./output.ts";

export const cancelCommand: Command = {
  name: "cancel",
  summary: "cancel a job and print its resulting state",
  usage:
    "vigil cancel JOB (--jobmanager HOST:PORT[,…] | --ha etcd|zookeeper --ha-endpoints HOST:PORT[,…] --cluster-id C) [--json]",
  flags: {
    ...clusterFlags,
    json: { type: "boolean", help: 'print {"jobId":…,"state":…} instead of a sentence' },
    help: { type: "boolean", help: "show this help" },
  },
  details: [
    clusterFlagsHelp,
    "",
    "Prints `job JOB: CANCELED`. A job that had already finished or failed keeps that state and it is printed",
    "instead. An unknown job is an error (exit 1). Cancelling is idempotent: retry freely after a timeout.",
    "",
    "Examples:",
    "  vigil cancel 7f3a9c2e --jobmanager 127.0.0.1:6123",
    "  vigil cancel 7f3a9c2e --ha zookeeper --ha-endpoints zk1:2181 --cluster-id prod --json",
  ].join("\n"),
  run: async (values, positionals) => {
    const [jobId] = positionalsOf(positionals, ["JOB"], "cancel") as [string];
    const target = clusterTargetFrom(values, "cancel");
    const answer = await withCluster(target, (client) => client.cancelJob({ jobId }, target.call));
    const state = stateName(answer.state);
    if (values.json === true) emit({ jobId, state });
    else process.stdout.write(`job ${jobId}: ${state}\n`);
    return 0;
  },
};
