// keyed-count: examples/keyed-count.ts (a sequence keyed by value mod K, a keyed counter, an exactly-once file
// sink) submitted once as `vigil run` would, sized to run about as long as the time limit, with checkpoints
// every CHECKPOINT_MS; clients poll its state meanwhile. At the end the job must have FINISHED and its
// committed output be exactly-once and complete (I7), with checkpoints under every long-lived leader (I5),
// restores from the latest checkpoint (I6) and increasing checkpoint ids (I8).
import { join, resolve } from "node:path";
import { buildJob } from "../../src/cli/run.ts";
import { followJob, isTerminal } from "../../src/cli/follow-job.ts";
import type { JobGraph, JobState } from "../../src/generated/records.ts";
import { checkKeyedCountOutput } from "../../src/local/keyed-count-check.ts";
import { once, phases, repeat, stagger } from "../generator.ts";
import type { KeyedCountOutcome } from "../types.ts";
import {
  CALL_TIMEOUT_MS,
  type Completion,
  readOutcome,
  type Workload,
  type WorkloadContext,
  type WorkloadFinish,
  writeOutcome,
} from "./workload.ts";

const KEYS = 7;
const PARALLELISM = 2;
/** Records per second per source subtask. */
const RATE = 400;
const CHECKPOINT_MS = 500;
const APP = resolve(import.meta.dirname, "../../examples/keyed-count.ts");

export class KeyedCountWorkload implements Workload {
  readonly name = "keyed-count";
  readonly description = "examples/keyed-count.ts, exactly-once output checked at the end";
  readonly clients = 1;
  readonly checkpointIntervalMs = CHECKPOINT_MS;
  readonly slotsPerTaskManager = 2;
  private job: { graph: JobGraph; artifact: Uint8Array; count: number; output: string } | undefined;

  generator(): ReturnType<Workload["generator"]> {
    return phases(
      once({ f: "run" }),
      stagger(
        1_000,
        repeat(() => ({ f: "status" })),
      ),
    );
  }

  async perform(op: { readonly f: string }, ctx: WorkloadContext): Promise<Completion> {
    if (op.f === "run") return this.run(ctx);
    if (op.f === "status") return this.status(ctx);
    return { type: "fail", error: `keyed-count: unknown operation ${op.f}` };
  }

  /** Builds the job once: the count makes it run for about `timeLimitMs`. */
  async prepare(ctx: WorkloadContext, timeLimitMs: number): Promise<void> {
    const count = Math.max(1_000, Math.round((RATE * PARALLELISM * timeLimitMs) / 1_000));
    const output = join(ctx.scratch, "keyed-count-output");
    const args = ["--count", String(count), "--keys", String(KEYS), "--rate", String(RATE)];
    const built = await buildJob(
      APP,
      [...args, "--checkpoint-interval", String(CHECKPOINT_MS), "--output", output],
      PARALLELISM,
      process.cwd(),
    );
    this.job = { ...built, count, output };
  }

  async finish(ctx: WorkloadContext, boundMs: number): Promise<WorkloadFinish> {
    const job = this.job;
    if (!job) return { outputs: {} };
    const jobId = job.graph.jobId;
    let state = "";
    try {
      const details = await followJob(jobId, {
        getJob: (id, options) => ctx.client.getJob({ jobId: id }, options),
        onPoll: (poll) => {
          if ("details" in poll) state = poll.details.summary?.state ?? state;
          if (state === "" || !isTerminal(state as JobState)) {
            ctx.progress(`waiting for keyed-count job ${jobId} to finish (${state || "unknown"})`);
          }
        },
        signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(boundMs)]),
        intervalMs: 1_000,
        patienceMs: boundMs,
      });
      state = details.summary?.state ?? state;
    } catch {
      // The bound passed (or no JobManager answered): judged below by the last state seen.
    }
    const outcome: KeyedCountOutcome =
      state === "JOB_STATE_FINISHED"
        ? await report(job.output, job.count)
        : {
            problems: [
              `job ${jobId} did not finish within ${boundMs} ms after the last heal (last seen: ${state || "unknown"})`,
            ],
            lines: 0,
            expected: job.count,
          };
    return { outputs: { [jobId]: outcome } };
  }

  private async run(ctx: WorkloadContext): Promise<Completion> {
    const job = this.job;
    if (!job) return { type: "fail", error: "keyed-count: prepare() was not called" };
    const value = { job: job.graph.jobId, kind: "keyed-count", count: job.count };
    try {
      const answer = await ctx.client.submitJob(
        { graph: job.graph, artifact: job.artifact },
        { timeoutMs: CALL_TIMEOUT_MS },
      );
      return { type: "ok", value: { ...value, epoch: answer.epoch.toString() } };
    } catch (e: unknown) {
      return { ...writeOutcome(e), value };
    }
  }

  private async status(ctx: WorkloadContext): Promise<Completion> {
    const jobId = this.job?.graph.jobId ?? "";
    try {
      const details = await ctx.client.getJob({ jobId }, { timeoutMs: CALL_TIMEOUT_MS });
      return { type: "ok", value: { job: jobId, state: details.summary?.state } };
    } catch (e: unknown) {
      return readOutcome(e);
    }
  }
}

async function report(output: string, count: number): Promise<KeyedCountOutcome> {
  try {
    const r = await checkKeyedCountOutput(output, { count, keys: KEYS });
    return { problems: r.problems, lines: r.lines, expected: count };
  } catch (e: unknown) {
    return { problems: [`cannot read the output in ${output}: ${String(e)}`], lines: 0, expected: count };
  }
}
