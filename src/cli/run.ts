// vigil run: runs an application on a session cluster. The client runs the application's main to build the
// JobGraph, runs it again in a fresh module instance to check that every TaskManager will resolve the same
// functions, validates the graph, and submits it with the application file as the artifact. Problems with the
// application are reported here, before anything is sent. Then, unless --detached, it follows the job to its end.
import { readFile, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { compileApplicationFile } from "../api/application-file.ts";
import { applicationJsonOf } from "../api/application-spec.ts";
import { isValidParallelism, PARALLELISM_RANGE } from "../api/pipeline.ts";
import { monotonicNow } from "../common/clock.ts";
import { ConfigError, describeCause, InvalidArgumentError, VigilError } from "../common/errors.ts";
import type { JobDetails, JobGraph } from "../generated/records.ts";
import { validateJobGraph } from "../runtime/job-graph.ts";
import { deriveJobId } from "../runtime/job-graph-json.ts";
import type { Command } from "./args.ts";
import { clusterFlags, clusterFlagsHelp, clusterTargetFrom, withCluster } from "./cluster-flags.ts";
import { followJob, progressLine } from "./follow-job.ts";
import { stateName } from "./job-format.ts";
import { emit } from "./output.ts";
import { Shutdown } from "./signals.ts";

export const runCommand: Command = {
  name: "run",
  summary: "run an application (a file whose main builds a DataStream pipeline) on the cluster",
  usage:
    "vigil run APP [--detached] [--parallelism N] [--from-savepoint PATH [--allow-non-restored-state]] (--jobmanager HOST:PORT[,…] | --ha etcd|zookeeper --ha-endpoints HOST:PORT[,…] --cluster-id C) [--json] [-- APP_ARGS…]",
  flags: {
    ...clusterFlags,
    detached: { type: "boolean", help: "return once the job is submitted instead of following it" },
    parallelism: {
      type: "string",
      value: "N",
      help: "parallelism of operators that set none, unless main calls env.setParallelism",
      default: "1",
    },
    "from-savepoint": {
      type: "string",
      value: "PATH",
      help: "start from this savepoint (the directory vigil savepoint or vigil stop printed) instead of empty state",
    },
    "allow-non-restored-state": {
      type: "boolean",
      help: "with --from-savepoint: drop savepoint state of operators (uids) the application no longer has",
    },
    json: {
      type: "boolean",
      help: 'print {"jobId":…,"alreadySubmitted":…,"epoch":…} and, when followed, {"jobId":…,"state":…}',
    },
    help: { type: "boolean", help: "show this help" },
  },
  details: [
    clusterFlagsHelp,
    "",
    "APP is one ES module file (.ts, .mts, .js or .mjs; a .ts or .js file needs a package.json with",
    '"type": "module" above it) exporting `async function main(env, args)`; it may import "vigil" and Node\'s',
    "built-in modules only: the file alone is shipped to the TaskManagers, which run main again with the same",
    "APP_ARGS (everything after --) to find its functions, so main must build the same pipeline every time.",
    "",
    "Prints `submitted job ID (NAME) to leader epoch E` first. Without --detached it then shows the job's",
    "progress on stderr and ends with `job ID: STATE`: exit 0 when FINISHED, 1 when FAILED or CANCELED.",
    "Ctrl-C stops following; the job keeps running. Running the same APP with the same APP_ARGS again is the",
    "same job (its id derives from the pipeline): it is not submitted twice.",
    "",
    "--from-savepoint PATH starts every operator from its state in the savepoint, found by the operator's uid",
    "(give every stateful operator a uid()); parallelism may differ from the savepoint's. The leader reads the",
    "savepoint once, at submission: a missing or damaged savepoint, or state of a uid the application does",
    "not have (unless --allow-non-restored-state), is refused and nothing is submitted. The job id then",
    "derives from the pipeline and the savepoint's path.",
    "",
    "Examples:",
    "  vigil run examples/keyed-count.ts --jobmanager 127.0.0.1:6123 -- --count 1000 --keys 7 --output out",
    "  vigil run app.ts --detached --parallelism 4 --ha etcd --ha-endpoints 127.0.0.1:2379 --cluster-id dev",
  ].join("\n"),
  run: async (values, positionals) => {
    const [app, ...args] = positionals;
    if (app === undefined) throw new ConfigError("APP is required; see vigil run --help");
    const defaultParallelism = parallelismFlag(values.parallelism);
    const target = clusterTargetFrom(values, "run");
    const built = await buildJob(app, args, defaultParallelism, process.cwd());
    const { artifact } = built;
    const graph = withSavepoint(built.graph, values["from-savepoint"], values["allow-non-restored-state"]);
    const json = values.json === true;

    const answer = await withCluster(target, (client) => client.submitJob({ graph, artifact }, target.call));
    if (json) emit({ jobId: answer.jobId, alreadySubmitted: answer.alreadySubmitted, epoch: answer.epoch });
    else {
      const already = answer.alreadySubmitted ? " (already submitted: the same job)" : "";
      process.stdout.write(
        `submitted job ${answer.jobId} (${graph.name}) to leader epoch ${answer.epoch}${already}\n`,
      );
    }
    if (values.detached === true) return 0;

    const shutdown = new Shutdown();
    const stop = new AbortController();
    void shutdown.requested.then(() => stop.abort(new Error("stopped following")));
    const progress = new ProgressPrinter(answer.jobId);
    let details: JobDetails;
    try {
      details = await withCluster(target, (client) =>
        followJob(answer.jobId, {
          getJob: (jobId, options) => client.getJob({ jobId }, options),
          onPoll: (poll) => progress.show("details" in poll ? progressLine(poll.details) : poll.problem),
          signal: stop.signal,
        }),
      );
    } catch (e: unknown) {
      progress.end();
      if (!stop.signal.aborted) throw e;
      process.stderr.write(
        `vigil run: stopped following job ${answer.jobId}; it keeps running (vigil cancel ${answer.jobId} … stops it)\n`,
      );
      return 130;
    } finally {
      shutdown.dispose();
    }
    progress.end();
    const summary = details.summary!;
    const state = stateName(summary.state);
    if (json) emit({ jobId: answer.jobId, state, ...(summary.error !== "" ? { error: summary.error } : {}) });
    else process.stdout.write(`job ${answer.jobId}: ${state}\n`);
    if (state === "FINISHED") return 0;
    process.stderr.write(
      `vigil run: job ${answer.jobId} ${state}${summary.error !== "" ? `: ${summary.error}` : ""}\n`,
    );
    return 1;
  },
};

/**
 * Compiles APP into the JobGraph to submit, with its application_json, and reads the artifact. Every problem is
 * an error that names APP (and the operator, for an invalid pipeline); nothing is sent.
 */
export async function buildJob(
  app: string,
  args: readonly string[],
  defaultParallelism: number,
  workingDirectory: string,
): Promise<{ graph: JobGraph; artifact: Uint8Array }> {
  const artifact = await readApplication(app);
  let graph: JobGraph;
  try {
    ({ graph } = await compileApplicationFile(app, args, { defaultParallelism, workingDirectory }));
  } catch (e: unknown) {
    const message = describeCause(e);
    throw new InvalidArgumentError(message.includes(app) ? message : `${app}: ${message}`);
  }
  try {
    validateJobGraph(graph, { artifact: true });
  } catch (e: unknown) {
    if (!(e instanceof VigilError)) throw e;
    throw new InvalidArgumentError(`${app}: the pipeline main built is invalid: ${e.message}`);
  }
  graph.applicationJson = applicationJsonOf({ file: app, args, defaultParallelism, workingDirectory });
  return { graph, artifact };
}

async function readApplication(app: string): Promise<Uint8Array> {
  try {
    const info = await stat(app);
    if (info.isDirectory())
      throw new InvalidArgumentError(`${app}: is a directory; name the application file`);
    return await readFile(app);
  } catch (e: unknown) {
    if (e instanceof VigilError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : describeCause(e);
    throw new InvalidArgumentError(`${app}: cannot read the application: ${reason}`);
  }
}

/** The graph starting from a savepoint: its own job id, so it is a new job, not the one that stopped. */
function withSavepoint(
  graph: JobGraph,
  path: string | boolean | undefined,
  allow: string | boolean | undefined,
): JobGraph {
  if (path === undefined) {
    if (allow === true) throw new ConfigError("--allow-non-restored-state needs --from-savepoint PATH");
    return graph;
  }
  if (typeof path !== "string" || path === "")
    throw new ConfigError("--from-savepoint: give the savepoint's path");
  const restored: JobGraph = {
    ...graph,
    savepointRestore: { path: resolve(path), allowNonRestoredState: allow === true },
  };
  return { ...restored, jobId: deriveJobId(restored) };
}

function parallelismFlag(value: string | boolean | undefined): number {
  if (value === undefined) return 1;
  const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!isValidParallelism(n)) {
    throw new ConfigError(`--parallelism: ${JSON.stringify(value)} is not ${PARALLELISM_RANGE}`);
  }
  return n;
}

/**
 * Progress on stderr: one line rewritten in place on a terminal; otherwise a line whenever it changes, at most
 * every 5 s when only the record count moves, so logs stay readable.
 */
class ProgressPrinter {
  private readonly tty = process.stderr.isTTY === true;
  private last = "";
  private lastShape = "";
  private lastPrinted = 0;
  private open = false;

  constructor(private readonly jobId: string) {}

  show(text: string): void {
    const line = `job ${this.jobId} ${text}`;
    if (this.tty) {
      process.stderr.write(`\r\x1b[K${line}`);
      this.open = true;
      return;
    }
    const shape = line.replace(/\d+ records/, "");
    const now = monotonicNow();
    if (line === this.last || (shape === this.lastShape && now - this.lastPrinted < 5_000)) return;
    process.stderr.write(`${line}\n`);
    this.last = line;
    this.lastShape = shape;
    this.lastPrinted = now;
  }

  end(): void {
    if (this.open) process.stderr.write("\n");
    this.open = false;
  }
}
