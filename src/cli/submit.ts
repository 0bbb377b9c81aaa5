// vigil submit: submits a JobGraph written as JSON. The file is read and checked before anything is sent, so
// a bad file never reaches the cluster. The leader answers only once the graph is stored durably; the job id
// (given, or derived from the graph) makes a retried submission idempotent.
import { readFile } from "node:fs/promises";
import { ConfigError, fileReadFailure, InvalidArgumentError } from "../common/errors.ts";
import type { JobGraph } from "../generated/records.ts";
import { parseJobGraphJson } from "../runtime/job-graph-json.ts";
import type { Command } from "./args.ts";
import {
  clusterFlags,
  clusterFlagsHelp,
  clusterTargetFrom,
  positionalsOf,
  withCluster,
} from "./cluster-flags.ts";
import { emit } from "./output.ts";

export const submitCommand: Command = {
  name: "submit",
  summary: "submit a JobGraph (JSON file) to the cluster",
  usage:
    "vigil submit FILE (--jobmanager HOST:PORT[,…] | --ha etcd|zookeeper --ha-endpoints HOST:PORT[,…] --cluster-id C) [--json]",
  flags: {
    ...clusterFlags,
    json: { type: "boolean", help: 'print {"jobId":…,"alreadySubmitted":…,"epoch":"…"}' },
    help: { type: "boolean", help: "show this help" },
  },
  details: [
    clusterFlagsHelp,
    "",
    "FILE is a JobGraph as JSON (vertices with operators and parallelism, edges, an optional jobId and job",
    "config). Without a jobId, one is derived from the graph, so submitting the same file twice submits one job.",
    "Prints `submitted job ID (NAME) to leader epoch E`; a repeated submission of the same graph says so and",
    "changes nothing. A different graph under a used job id, or a job that already finished, is refused.",
    "A file that cannot be read or is not a valid JobGraph is reported with its name and nothing is sent.",
    "",
    "Examples:",
    "  vigil submit wordcount.json --jobmanager 127.0.0.1:6123",
    "  vigil submit wordcount.json --ha etcd --ha-endpoints 127.0.0.1:2379 --cluster-id dev --json",
  ].join("\n"),
  run: async (values, positionals) => {
    const [file] = positionalsOf(positionals, ["FILE"], "submit") as [string];
    const target = clusterTargetFrom(values, "submit");
    const graph = await readJobGraphFile(file);
    const answer = await withCluster(target, (client) => client.submitJob({ graph }, target.call));
    if (values.json === true) {
      emit({ jobId: answer.jobId, alreadySubmitted: answer.alreadySubmitted, epoch: answer.epoch });
    } else if (answer.alreadySubmitted) {
      process.stdout.write(
        `job ${answer.jobId} (${graph.name}) was already submitted; leader epoch ${answer.epoch} has it\n`,
      );
    } else {
      process.stdout.write(`submitted job ${answer.jobId} (${graph.name}) to leader epoch ${answer.epoch}\n`);
    }
    return 0;
  },
};

/**
 * Reads and checks a JobGraph file. Every problem is an InvalidArgumentError (exit 1, not a usage error) whose
 * message starts with the file name.
 */
export async function readJobGraphFile(file: string): Promise<JobGraph> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e: unknown) {
    throw new InvalidArgumentError(`${file}: cannot read the job graph: ${fileReadFailure(e)}`);
  }
  try {
    return parseJobGraphJson(text, file);
  } catch (e: unknown) {
    // A bad file is a bad input, not bad usage of the command.
    if (e instanceof ConfigError) throw new InvalidArgumentError(e.message);
    throw e;
  }
}
