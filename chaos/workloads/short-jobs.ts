// short-jobs: many small jobs submitted, listed and cancelled by several clients while the nemesis works.
// Bounded jobs (a few seconds of records) finish by themselves; unbounded ones run until a client cancels
// them, at most MAX_UNBOUNDED at a time so that slots never run out. Exercises I3 (cancel), I4 (no
// acknowledged submission lost), I9 (terminal never runs again), I10 (cleanup), with I1, I2 and I11.
import type { JobGraph } from "../../src/generated/records.ts";
import { mix, repeat, stagger } from "../generator.ts";
import {
  CALL_TIMEOUT_MS,
  type Completion,
  readOutcome,
  type Workload,
  type WorkloadContext,
  type WorkloadFinish,
  writeOutcome,
} from "./workload.ts";

const MAX_UNBOUNDED = 3;
const RATE = 200;

export class ShortJobsWorkload implements Workload {
  readonly name = "short-jobs";
  readonly description = "many small jobs submitted, listed and cancelled by 3 clients";
  readonly clients = 3;
  readonly checkpointIntervalMs = 0;
  readonly slotsPerTaskManager = 6;
  private next = 0;
  /** Jobs whose submission was acknowledged or may have been, with whether they are unbounded. */
  private readonly submitted = new Map<string, { readonly unbounded: boolean }>();
  private readonly cancelled = new Set<string>();

  constructor(private readonly runId: string) {}

  generator(): ReturnType<Workload["generator"]> {
    return stagger(
      500,
      mix(
        repeat(() => ({ f: "submit" })),
        repeat(() => ({ f: "submit" })),
        repeat((ctx) => ({ f: "cancel", value: { pick: ctx.random.float() } })),
        repeat(() => ({ f: "list" })),
      ),
    );
  }

  async perform(
    op: { readonly f: string; readonly value?: unknown },
    ctx: WorkloadContext,
  ): Promise<Completion> {
    switch (op.f) {
      case "submit":
        return this.submit(ctx);
      case "cancel":
        return this.cancel(ctx, (op.value as { pick: number }).pick);
      case "list":
        return this.list(ctx);
      default:
        return { type: "fail", error: `short-jobs: unknown operation ${op.f}` };
    }
  }

  async finish(ctx: WorkloadContext, boundMs: number): Promise<WorkloadFinish> {
    // Bounded jobs finish within seconds of running again; wait (bounded) until no job is between states.
    const until = Date.now() + boundMs;
    while (Date.now() < until && !ctx.signal.aborted) {
      const jobs = await ctx.client.listJobs({}, { timeoutMs: CALL_TIMEOUT_MS }).catch(() => undefined);
      const settling = jobs?.jobs.some(
        (j) =>
          this.submitted.has(j.jobId) &&
          !this.submitted.get(j.jobId)!.unbounded &&
          !["JOB_STATE_FINISHED", "JOB_STATE_CANCELED", "JOB_STATE_FAILED"].includes(j.state),
      );
      if (jobs && !settling) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    return { outputs: {} };
  }

  private async submit(ctx: WorkloadContext): Promise<Completion> {
    const live = [...this.submitted].filter(([id, j]) => j.unbounded && !this.cancelled.has(id)).length;
    const unbounded = live < MAX_UNBOUNDED && ctx.random.float() < 0.4;
    const job = `${this.runId}-${this.next++}`;
    const graph = shortJob(job, unbounded ? 0 : RATE * (2 + ctx.random.int(4)));
    this.submitted.set(job, { unbounded });
    try {
      const answer = await ctx.client.submitJob({ graph }, { timeoutMs: CALL_TIMEOUT_MS });
      return { type: "ok", value: { job, unbounded, epoch: answer.epoch.toString() } };
    } catch (e: unknown) {
      const outcome = writeOutcome(e);
      if (outcome.type === "fail") this.submitted.delete(job);
      return { ...outcome, value: { job, unbounded } };
    }
  }

  private async cancel(ctx: WorkloadContext, pick: number): Promise<Completion> {
    const candidates = [...this.submitted]
      .filter(([id, j]) => j.unbounded && !this.cancelled.has(id))
      .map(([id]) => id);
    if (candidates.length === 0) return { type: "fail", error: "nothing to cancel", value: {} };
    const job = candidates[Math.floor(pick * candidates.length)]!;
    try {
      const answer = await ctx.client.cancelJob({ jobId: job }, { timeoutMs: CALL_TIMEOUT_MS });
      this.cancelled.add(job);
      return { type: "ok", value: { job, state: answer.state } };
    } catch (e: unknown) {
      return { ...writeOutcome(e), value: { job } };
    }
  }

  private async list(ctx: WorkloadContext): Promise<Completion> {
    try {
      const answer = await ctx.client.listJobs({}, { timeoutMs: CALL_TIMEOUT_MS });
      return {
        type: "ok",
        value: {
          epoch: answer.epoch.toString(),
          jobs: answer.jobs.map((j) => ({ job: j.jobId, state: j.state })),
        },
      };
    } catch (e: unknown) {
      return readOutcome(e);
    }
  }
}

/** source.sequence (count 0: unbounded) → sink.discard, parallelism 1, no restarts limit. */
function shortJob(jobId: string, count: number): JobGraph {
  return {
    version: 1,
    jobId,
    name: jobId,
    vertices: [
      {
        id: "src",
        name: "src",
        operatorKind: "source.sequence",
        parallelism: 1,
        configJson: JSON.stringify({ count, ratePerSecond: RATE }),
      },
      { id: "out", name: "out", operatorKind: "sink.discard", parallelism: 1, configJson: "{}" },
    ],
    edges: [{ source: "src", target: "out", partitioning: "PARTITIONING_FORWARD" }],
    configJson: JSON.stringify({ restartStrategy: { type: "fixed-delay", attempts: 1000, delayMs: 200 } }),
  };
}
