// The client library of the CLI and the tests: DispatcherService calls that find the JobManager leader by
// themselves. Every Dispatcher RPC is idempotent by contract (submit on the job id, cancel on the job), so a
// call is retried across redirects, unreachable JobManagers and leader changes until its overall timeout.
// What is never hidden: a write whose answer did not arrive ends as "outcome unknown", not as "failed".
import { monotonicNow } from "../common/clock.ts";
import {
  CancelledError,
  ConfigError,
  DeadlineExceededError,
  LifecycleError,
  NotLeaderError,
  UnavailableError,
  VigilError,
} from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import type { HaConfig } from "../config/ha-config.ts";
import type {
  CancelJobRequest,
  CancelJobResponse,
  ClusterOverview,
  ClusterOverviewRequest,
  GetJobRequest,
  GetLeaderRequest,
  JobDetails,
  LeaderAddress,
  ListJobsRequest,
  ListJobsResponse,
  SavepointResponse,
  StopJobRequest,
  SubmitJobRequest,
  SubmitJobResponse,
  TriggerSavepointRequest,
} from "../generated/records.ts";
import { DispatcherMethods, type DispatcherService } from "../generated/services.ts";
import type { MemoryCoordinator } from "../ha/memory/index.ts";
import { type CallOptions, DEFAULT_CALL_TIMEOUT_MS } from "../rpc/call.ts";
import { createClient, type RpcClient } from "../rpc/client.ts";
import { ConnectionLostError } from "../rpc/errors.ts";
import { AddressListSource, HaRetrievalSource, type LeaderSource } from "./leader-source.ts";

/** Overall bound of one ClusterClient call, redirects and retries included, unless the call passes timeoutMs. */
export const DEFAULT_CLUSTER_CALL_TIMEOUT_MS = 10_000;
/** NOT_LEADER redirects followed in a row before the client backs off and looks again. */
const MAX_HOPS = 5;
const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 1_000;

type Method = keyof DispatcherService;

/** Writes: a lost answer means the outcome is unknown, and the caller must hear so. */
const WRITES: ReadonlySet<Method> = new Set<Method>([
  "submitJob",
  "cancelJob",
  "triggerSavepoint",
  "stopJob",
]);

/** Calls that take as long as a checkpoint: one attempt may use the whole deadline. */
const LONG: ReadonlySet<Method> = new Set<Method>(["triggerSavepoint", "stopJob"]);

/** Errors after which another JobManager (or the same one a moment later) may succeed. */
const RETRYABLE: ReadonlySet<string> = new Set([
  "NOT_LEADER",
  "UNAVAILABLE",
  "DEADLINE_EXCEEDED",
  "LEADERSHIP_LOST",
  "STALE_FENCE",
  "BACKEND_UNAVAILABLE",
  "POSSIBLY_INCONSISTENT",
]);

/** The outcome of a write is unknown after these codes, and after a ConnectionLostError (sent, then lost). */
const UNKNOWN_OUTCOME: ReadonlySet<string> = new Set(["DEADLINE_EXCEEDED", "POSSIBLY_INCONSISTENT"]);

function outcomeUnknown(e: VigilError): boolean {
  return UNKNOWN_OUTCOME.has(e.code) || e instanceof ConnectionLostError;
}

export class ClusterClient implements DispatcherService {
  private readonly clients = new Map<string, RpcClient<DispatcherService>>();
  private readonly closing = new AbortController();
  private hint: string | undefined;

  private constructor(
    private readonly source: LeaderSource,
    private readonly logger: Logger,
  ) {}

  /** Finds the leader through leader retrieval on JOBMANAGER_ELECTION (connects its own HaBackend on first use). */
  static viaHa(config: HaConfig, logger: Logger, memory?: MemoryCoordinator): ClusterClient {
    return new ClusterClient(new HaRetrievalSource(config, logger, memory), logger);
  }

  /** Talks to any of these JobManagers ("host:port") and follows NOT_LEADER to the leader. */
  static viaAddresses(addresses: readonly string[], logger: Logger): ClusterClient {
    if (addresses.length === 0)
      throw new ConfigError("cluster client: give at least one JobManager address (host:port)");
    return new ClusterClient(new AddressListSource([...addresses]), logger);
  }

  submitJob(request: SubmitJobRequest, options?: CallOptions): Promise<SubmitJobResponse> {
    return this.invoke("submitJob", (c, o) => c.submitJob(request, o), options);
  }

  listJobs(request: ListJobsRequest, options?: CallOptions): Promise<ListJobsResponse> {
    return this.invoke("listJobs", (c, o) => c.listJobs(request, o), options);
  }

  getJob(request: GetJobRequest, options?: CallOptions): Promise<JobDetails> {
    return this.invoke("getJob", (c, o) => c.getJob(request, o), options);
  }

  cancelJob(request: CancelJobRequest, options?: CallOptions): Promise<CancelJobResponse> {
    return this.invoke("cancelJob", (c, o) => c.cancelJob(request, o), options);
  }

  /** Waits for the savepoint: pass a timeoutMs that covers the job's checkpoint timeout. */
  triggerSavepoint(request: TriggerSavepointRequest, options?: CallOptions): Promise<SavepointResponse> {
    return this.invoke("triggerSavepoint", (c, o) => c.triggerSavepoint(request, o), options);
  }

  /** Waits for the savepoint (not for the job to finish): pass a timeoutMs that covers the checkpoint timeout. */
  stopJob(request: StopJobRequest, options?: CallOptions): Promise<SavepointResponse> {
    return this.invoke("stopJob", (c, o) => c.stopJob(request, o), options);
  }

  clusterOverview(request: ClusterOverviewRequest, options?: CallOptions): Promise<ClusterOverview> {
    return this.invoke("clusterOverview", (c, o) => c.clusterOverview(request, o), options);
  }

  /** Via HA: answered from leader retrieval (waits for a published leader); otherwise asks a JobManager. */
  async getLeader(request: GetLeaderRequest, options?: CallOptions): Promise<LeaderAddress> {
    const viaRetrieval = this.source instanceof HaRetrievalSource;
    if (!viaRetrieval) return this.invoke("getLeader", (c, o) => c.getLeader(request, o), options);
    return this.withDeadline("getLeader", options, async (signal, timeoutMs) => {
      for (let backoff = BACKOFF_MIN_MS; !signal.aborted; backoff = Math.min(backoff * 2, BACKOFF_MAX_MS)) {
        await this.source.candidates(undefined, signal).catch(rethrowUnless(signal));
        const info = this.source.published();
        if (info) return { name: info.name, address: info.address, epoch: info.epoch };
        await this.source.settle(backoff, signal).catch(() => undefined);
      }
      throw new UnavailableError(
        `no JobManager leader published through ${this.source.description} within ${seconds(timeoutMs)}; is the cluster running?`,
      );
    });
  }

  /** Closes every connection and the HA client; calls in progress end with LifecycleError. Idempotent. */
  async close(): Promise<void> {
    if (this.closing.signal.aborted) return;
    this.closing.abort(new LifecycleError("cluster client closed"));
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
    await this.source.close();
  }

  private invoke<T>(
    method: Method,
    send: (client: DispatcherService, options: CallOptions) => Promise<T>,
    options: CallOptions | undefined,
  ): Promise<T> {
    return this.withDeadline(method, options, async (signal, timeoutMs, deadline) => {
      const failures = new Map<string, VigilError>();
      let unknown: VigilError | undefined;
      for (let backoff = BACKOFF_MIN_MS; ; backoff = Math.min(backoff * 2, BACKOFF_MAX_MS)) {
        const candidates = await this.source.candidates(this.hint, signal).catch(rethrowUnless(signal));
        for (const first of candidates ?? []) {
          let target: string | undefined = first;
          for (let hops = 0; target !== undefined && hops <= MAX_HOPS && !signal.aborted; hops++) {
            const left = deadline - monotonicNow();
            const attemptMs = Math.max(1, LONG.has(method) ? left : Math.min(left, DEFAULT_CALL_TIMEOUT_MS));
            try {
              const answer = await send(this.clientOf(target), { signal, timeoutMs: attemptMs });
              this.hint = target;
              return answer;
            } catch (e: unknown) {
              // Cut off by the overall deadline (or a cancel, reported as such) before a connection existed:
              // the attempt was never sent.
              const unsent = e instanceof UnavailableError && !(e instanceof ConnectionLostError);
              if (signal.aborted && unsent) {
                if (!failures.has(target)) failures.set(target, e);
                break;
              }
              if (signal.aborted) {
                // Cut off by the overall deadline (or a cancel, reported as such): no answer, outcome unknown.
                unknown = new DeadlineExceededError(
                  `${method} to ${target}: no answer before the call's deadline`,
                );
                if (!failures.has(target)) failures.set(target, unknown);
                break;
              }
              if (!(e instanceof VigilError) || !RETRYABLE.has(e.code)) throw e;
              // What may have happened at an address outranks what happened there later.
              const earlier = failures.get(target);
              if (earlier === undefined || !outcomeUnknown(earlier)) failures.set(target, e);
              if (outcomeUnknown(e)) unknown = e;
              const next: string | undefined = e instanceof NotLeaderError ? e.leaderAddress : undefined;
              this.logger.debug("cluster client: attempt failed", {
                method,
                address: target,
                error: e.message,
              });
              target = next !== undefined && next !== target ? next : undefined;
              if (target !== undefined) this.hint = target;
            }
          }
          if (signal.aborted) break;
        }
        if (signal.aborted) break;
        await this.source
          .settle(Math.min(backoff, Math.max(0, deadline - monotonicNow())), signal)
          .catch(() => undefined);
        if (signal.aborted) break;
      }
      throw this.giveUp(method, timeoutMs, failures, unknown);
    });
  }

  /**
   * Runs `body` with a signal that aborts at the call's overall deadline, on the caller's signal, or on close;
   * turns the caller's cancel and close into their own errors (a body sees them only as `signal.aborted`).
   */
  private async withDeadline<T>(
    method: Method,
    options: CallOptions | undefined,
    body: (signal: AbortSignal, timeoutMs: number, deadline: number) => Promise<T>,
  ): Promise<T> {
    const caller = options?.signal;
    const closing = this.closing.signal;
    const where = `${method} (cluster client)`;
    if (closing.aborted) throw new LifecycleError(`${where}: the client is closed; nothing was sent`);
    const timeoutMs = options?.timeoutMs ?? DEFAULT_CLUSTER_CALL_TIMEOUT_MS;
    const deadline = monotonicNow() + timeoutMs;
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(), timeoutMs);
    const signal = AbortSignal.any(caller ? [timer.signal, closing, caller] : [timer.signal, closing]);
    const unknown = WRITES.has(method) ? "; outcome unknown" : "";
    try {
      const result = await body(signal, timeoutMs, deadline);
      return result;
    } catch (e: unknown) {
      if (caller?.aborted)
        throw new CancelledError(`${where}: cancelled by the caller${unknown}`, caller.reason);
      if (closing.aborted)
        throw new LifecycleError(`${where}: the client was closed during the call${unknown}`);
      throw e;
    } finally {
      clearTimeout(timeout);
    }
  }

  private giveUp(
    method: Method,
    timeoutMs: number,
    failures: ReadonlyMap<string, VigilError>,
    unknown: VigilError | undefined,
  ): VigilError {
    const tried = [...failures].map(([address, e]) => `${address} (${reason(e)})`).join(", ");
    const within = `within ${seconds(timeoutMs)}`;
    if (unknown && WRITES.has(method)) {
      return new DeadlineExceededError(
        `${method}: outcome unknown: no JobManager confirmed it ${within} (tried ${tried}); ` +
          "it is safe to retry (the call is idempotent on the job id), or check with `vigil list`",
        unknown,
      );
    }
    const at = tried ? `reachable at ${tried}` : `found through ${this.source.description}`;
    return new UnavailableError(`no JobManager leader ${at} ${within}; is the cluster running?`);
  }

  private clientOf(address: string): RpcClient<DispatcherService> {
    let client = this.clients.get(address);
    if (!client) {
      client = createClient<DispatcherService>(DispatcherMethods, address);
      this.clients.set(address, client);
    }
    return client;
  }
}

/** Rejections while `signal` is aborted are the abort (handled by the caller); others propagate. */
function rethrowUnless(signal: AbortSignal): (e: unknown) => undefined {
  return (e: unknown) => {
    if (signal.aborted) return undefined;
    throw e;
  };
}

function reason(e: VigilError): string {
  if (e instanceof NotLeaderError)
    return e.leaderAddress ? `redirected to ${e.leaderAddress}` : "not the leader";
  if (e instanceof ConnectionLostError) return "connection lost mid-call";
  if (e.code === "UNAVAILABLE") return "unreachable";
  if (e.code === "DEADLINE_EXCEEDED") return "no answer in time";
  return e.message;
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(2))} s`;
}
