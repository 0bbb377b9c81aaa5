// The dispatcher: the JobManager's LeaderContender and its Dispatcher service. On grant it builds the leader
// context (recovery included) and only then confirms the leadership, which publishes this JobManager's
// address; on revoke it suspends everything at once. A standby answers every call but GetLeader with
// NotLeaderError and the leader's address, which clients follow.
import { monotonicNow, sleep } from "../common/clock.ts";
import {
  AlreadyExistsError,
  describeCause,
  InvalidArgumentError,
  isLeadershipLoss,
  NotFoundError,
  NotLeaderError,
} from "../common/errors.ts";
import {
  type CancelJobResponse,
  type ClusterOverview,
  codecs,
  type JobDetails,
  type JobGraph,
  type JobState,
  type JobSummary,
  type LeaderAddress,
  type ListJobsResponse,
  type SavepointResponse,
  type StopJobRequest,
  type SubmitJobRequest,
  type SubmitJobResponse,
  type TriggerSavepointRequest,
} from "../generated/records.ts";
import type { DispatcherService } from "../generated/services.ts";
import type { LeaderInfo } from "../ha/election-driver.ts";
import type { LeaderContender, LeaderElectionService } from "../ha/leader-election-service.ts";
import type { LeaderSession } from "../ha/leader-session.ts";
import type { JobResultEntry } from "../ha/stores/job-result-store.ts";
import { validateJobGraph } from "../runtime/job-graph.ts";
import { jobStateOf } from "./job-master.ts";
import { LeaderContext, type LeaderContextOptions } from "./leader-context.ts";
import { asSubmitted, savepointDirectory, withImportedSavepoint } from "./savepoints.ts";

/** What a leader session's context needs, less the session itself: the dispatcher makes one per grant. */
export type DispatcherOptions = Omit<LeaderContextOptions, "session" | "grantedAt"> & {
  /** Where savepoints go when a request names no directory (an absolute path); undefined: none. */
  readonly savepointDir?: string | undefined;
  /** TEST ONLY: acknowledge submissions at once and store them this many ms later (breaks I4 on purpose). */
  readonly unsafeAckBeforeStoreMs?: number | undefined;
};

export class Dispatcher implements DispatcherService, LeaderContender {
  private election: LeaderElectionService | undefined;
  private address = "";
  /** The current session's context, from grant to revoke. */
  private context: LeaderContext | undefined;
  /** Set once recovery finished: only then does the context serve calls. */
  private serving: LeaderContext | undefined;
  private readonly contexts = new Set<LeaderContext>();
  private retrieved: LeaderInfo | undefined;
  private resigned = false;

  constructor(private readonly options: DispatcherOptions) {}

  /** Before campaigning: the election service that confirms grants, and where this JobManager serves. */
  bind(election: LeaderElectionService, address: string): void {
    this.election = election;
    this.address = address;
  }

  /** Leader retrieval's latest report: the leader's address for standbys' NotLeaderError. */
  notifyLeader(info: LeaderInfo | undefined): void {
    this.retrieved = info;
  }

  /** The serving leader context, or NotLeaderError with the leader's address. */
  leader(): LeaderContext {
    const context = this.serving;
    if (context?.session.isValid()) return context;
    throw this.notLeader();
  }

  async grantLeadership(session: LeaderSession): Promise<void> {
    if (this.resigned) return;
    const grantedAt = monotonicNow();
    this.options.logger.info("granted leadership", { epoch: session.epoch });
    this.options.events({
      event: "granted",
      epoch: session.epoch,
      ...(session.grantRevision !== undefined && { revision: session.grantRevision }),
    });
    const context = new LeaderContext({ ...this.options, session, grantedAt });
    this.context = context;
    this.contexts.add(context);
    try {
      await context.start();
    } catch (e: unknown) {
      if (!session.isValid() || context.closed) return;
      throw e;
    }
    if (this.context !== context || !session.isValid()) return;
    this.serving = context;
    if (await this.election?.confirmLeadership(session, this.address)) {
      this.options.events({ event: "published", epoch: session.epoch, address: this.address });
    }
  }

  revokeLeadership(session: LeaderSession, reason: string): void {
    this.options.logger.info("leadership revoked", { epoch: session.epoch, reason });
    this.options.events({ event: "revoked", epoch: session.epoch, reason });
    const context = this.context;
    if (context?.session !== session) return;
    this.context = undefined;
    this.serving = undefined;
    context.close();
    void context.drained().then(() => this.contexts.delete(context));
  }

  /**
   * This JobManager gives up leadership (its revoke follows): stop serving and abort a recovery still in
   * progress, so that the grant returns and the revoke queued behind it is not held up until the session's
   * deadline (e.g. while recovery retries against an unreachable store). Later grants are ignored.
   */
  resign(): void {
    this.resigned = true;
    this.serving = undefined;
    this.context?.close();
  }

  handleError(error: Error): void {
    this.options.logger.warn("leader election reported a problem", { error: error.message });
  }

  /** Resolves once the job masters of every past session have stopped working. */
  async drained(): Promise<void> {
    await Promise.all([...this.contexts].map((c) => c.drained()));
  }

  async submitJob(request: SubmitJobRequest): Promise<SubmitJobResponse> {
    const context = this.leader();
    const graph = request.graph;
    if (!graph) throw new InvalidArgumentError("submit job: the request has no JobGraph");
    const artifact = request.artifact;
    validateJobGraph(graph, { artifact: artifact !== undefined });
    if (artifact !== undefined && !this.options.blobs) {
      throw new InvalidArgumentError(
        `submit job ${graph.jobId}: it carries an application artifact, but the JobManagers have no file storage; start them with --storage-dir`,
      );
    }
    const unsafeDelay = this.options.unsafeAckBeforeStoreMs;
    if (unsafeDelay !== undefined) {
      // TEST ONLY (VIGIL_UNSAFE_ACK_BEFORE_STORE): answer first, store later; a leader lost meanwhile loses an
      // acknowledged job, which the chaos checker I4 must catch.
      void sleep(unsafeDelay)
        .then(() => this.store(context, graph, artifact))
        .catch((e: unknown) =>
          this.options.logger.warn("unsafe: storing an acknowledged job failed", { error: describeCause(e) }),
        );
      return { jobId: graph.jobId, alreadySubmitted: false, epoch: context.epoch };
    }
    return this.store(context, graph, artifact);
  }

  /** Stores a validated submission (or finds it stored) and starts its job master; answers once durable. */
  private store(
    context: LeaderContext,
    graph: JobGraph,
    artifact: Uint8Array | undefined,
  ): Promise<SubmitJobResponse> {
    return this.write(context, async () => {
      const { session, epoch } = context;
      session.assertLeader();
      const jobId = graph.jobId;
      const result = await this.options.results.get(jobId);
      if (result)
        throw alreadyExists(
          jobId,
          `job ${jobId} already reached ${jobStateOf(result.status)}; a job with a result never runs again`,
        );
      const entry = context.jobs.has(jobId) ? undefined : await this.options.graphs.getEntry(jobId);
      // Read after the await: within `writes` nothing else starts a job master, but never act on a stale one.
      const live = context.jobs.get(jobId);
      const stored = live ? live.graph : entry?.graph;
      if (stored) {
        // A resubmitted application: the stored graph points at the artifact written the first time.
        if (!sameGraph(asSubmitted(stored, artifact !== undefined), graph)) {
          throw alreadyExists(
            jobId,
            `job ${jobId} is already submitted with a different JobGraph; submit it under a new job id`,
          );
        }
        if (live?.terminal) {
          throw alreadyExists(
            jobId,
            `job ${jobId} already reached ${live.state}; a job with a result never runs again`,
          );
        }
        if (!live) context.startJob(stored, entry?.submittedAtMs ?? 0n, true);
        return { jobId, alreadySubmitted: true, epoch };
      }
      // Blobs first, pointer second: a graph never names an artifact or a savepoint that is not there.
      const restored = await withImportedSavepoint(graph, this.options.blobs);
      session.assertLeader();
      const toStore =
        artifact === undefined
          ? restored
          : { ...restored, artifact: await this.options.blobs!.put(`artifact-${jobId}`, artifact) };
      session.assertLeader();
      await this.options.graphs.put(toStore, session);
      session.assertLeader();
      this.options.logger.info("job submitted", { job: jobId, epoch });
      this.options.events({ event: "job-submitted", job: jobId, epoch });
      context.startJob(toStore, BigInt(Date.now()), false);
      return { jobId, alreadySubmitted: false, epoch };
    });
  }

  async cancelJob(request: { readonly jobId: string }): Promise<CancelJobResponse> {
    const context = this.leader();
    const { jobId } = request;
    return this.write(context, async () => {
      const { session } = context;
      session.assertLeader();
      const result = await this.options.results.get(jobId);
      if (result) return { state: jobState(jobStateOf(result.status)) };
      const live = context.jobs.get(jobId);
      if (!live && !(await this.options.graphs.jobIds()).includes(jobId))
        throw new NotFoundError(`job ${jobId}`);
      const status = "JOB_STATUS_CANCELED";
      try {
        await this.options.results.createDirty(
          { jobId, status, error: "", finishedAtMs: BigInt(Date.now()) },
          session,
        );
      } catch (e: unknown) {
        // The job reached a terminal state first: that is its answer.
        if (!(e instanceof AlreadyExistsError)) throw e;
        const first = await this.options.results.get(jobId);
        if (first) return { state: jobState(jobStateOf(first.status)) };
        throw e;
      }
      this.options.logger.info("job cancelled", { job: jobId, epoch: context.epoch });
      // The job master as it is now, after the awaits: the one to cancel, if any.
      const master = context.jobs.get(jobId);
      if (master) master.cancel();
      else context.cleanUp(jobId).catch(() => {});
      return { state: jobState("CANCELED") };
    });
  }

  async triggerSavepoint(request: TriggerSavepointRequest): Promise<SavepointResponse> {
    return this.savepoint(request.jobId, request.targetDirectory, false);
  }

  async stopJob(request: StopJobRequest): Promise<SavepointResponse> {
    return this.savepoint(request.jobId, request.targetDirectory, true);
  }

  /** Savepoints are not serialized with submissions: the coordinator fences them itself. */
  private async savepoint(jobId: string, requested: string, stop: boolean): Promise<SavepointResponse> {
    const context = this.leader();
    const directory = savepointDirectory(requested, this.options.savepointDir, jobId);
    const job = context.jobs.get(jobId);
    if (!job || job.terminal) {
      const result = await this.options.results.get(jobId);
      if (result) {
        throw new InvalidArgumentError(
          `job ${jobId} is ${jobStateOf(result.status)}; only a running job takes a savepoint`,
        );
      }
      throw new NotFoundError(`job ${jobId}`);
    }
    return this.asLeader(async () => {
      const { checkpointId, path } = await job.savepoint({ directory, stop });
      this.options.logger.info(stop ? "job stopping with savepoint" : "savepoint taken", {
        job: jobId,
        path,
      });
      return { path, checkpointId, state: job.summary().state };
    });
  }

  async listJobs(): Promise<ListJobsResponse> {
    const context = this.leader();
    return { jobs: await this.summaries(context), epoch: context.epoch };
  }

  async getJob(request: { readonly jobId: string }): Promise<JobDetails> {
    const context = this.leader();
    const live = context.jobs.get(request.jobId);
    if (live) return live.details();
    const summary = (await this.summaries(context)).find((j) => j.jobId === request.jobId);
    if (!summary) throw new NotFoundError(`job ${request.jobId}`);
    return { summary, tasks: [] };
  }

  async clusterOverview(): Promise<ClusterOverview> {
    const context = this.leader();
    return {
      leader: { name: this.options.name, address: this.address, epoch: context.epoch },
      taskmanagers: context.resourceManager.taskManagers(),
      jobs: await this.summaries(context),
    };
  }

  async getLeader(): Promise<LeaderAddress> {
    const context = this.serving;
    if (context?.session.isValid())
      return { name: this.options.name, address: this.address, epoch: context.epoch };
    const info = this.retrieved;
    return info
      ? { name: info.name, address: info.address, epoch: info.epoch }
      : { name: "", address: "", epoch: 0n };
  }

  /**
   * Runs a write of this session, one at a time. A write refused because the session ended did nothing:
   * the caller hears NotLeaderError and finds the next leader.
   */
  private write<T>(context: LeaderContext, action: () => Promise<T>): Promise<T> {
    return this.asLeader(() => context.writes.run(action));
  }

  /** Runs a leader action; one refused because the session ended did nothing: the caller hears NotLeaderError. */
  private async asLeader<T>(action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (e: unknown) {
      if (isLeadershipLoss(e)) throw this.notLeader();
      throw e;
    }
  }

  private notLeader(): NotLeaderError {
    const hint = this.retrieved?.address;
    return new NotLeaderError(hint && hint !== this.address ? hint : undefined);
  }

  /** Live jobs with their state, jobs that could not be recovered, and terminal jobs from the result store. */
  private async summaries(context: LeaderContext): Promise<JobSummary[]> {
    const jobs = new Map<string, JobSummary>();
    for (const [id, job] of context.jobs) jobs.set(id, job.summary());
    for (const [id, error] of context.unrecovered) {
      if (!jobs.has(id)) jobs.set(id, summaryOf(id, "", jobState("CREATED"), error));
    }
    for (const r of await this.options.results.list()) {
      if (!jobs.has(r.jobId)) jobs.set(r.jobId, resultSummary(r));
    }
    return [...jobs.values()].sort((a, b) => (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0));
  }
}

function jobState(state: string): JobState {
  return `JOB_STATE_${state}` as JobState;
}

function summaryOf(jobId: string, name: string, state: JobState, error: string): JobSummary {
  return { jobId, name, state, submittedAtMs: 0n, restarts: 0, tasks: 0, runningTasks: 0, error };
}

function resultSummary(r: JobResultEntry): JobSummary {
  return summaryOf(r.jobId, "", jobState(jobStateOf(r.status)), r.error);
}

function sameGraph(a: JobGraph, b: JobGraph): boolean {
  return Buffer.from(codecs.JobGraph.encode(a)).equals(codecs.JobGraph.encode(b));
}

/** ALREADY_EXISTS with a message that says why, not only which key. */
function alreadyExists(jobId: string, message: string): AlreadyExistsError {
  const error = new AlreadyExistsError(`job ${jobId}`);
  error.message = message;
  return error;
}
