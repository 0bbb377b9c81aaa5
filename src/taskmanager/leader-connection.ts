// A TaskManager's side of its relationship with the JobManagers' leader (design, issue 3). It follows leader
// retrieval; for each new leader it raises the epoch fence at once, stops the tasks of older epochs (and waits
// for them), registers (with back-off, for as long as that leader is the newest known), then heartbeats under
// the task lease (task-lease.ts). When the lease is about to pass, or the leader answers NOT_LEADER, the tasks
// of that epoch are cancelled (event leader-lost), must be dead by the lease end (else a fatal error), and the
// TaskManager registers again. "No leader published" changes nothing by itself: the old leader may still be
// alive, and the lease decides.
import { monotonicNow, sleep } from "../common/clock.ts";
import { describeCause, InternalError, LifecycleError, VigilError } from "../common/errors.ts";
import type { EventSink } from "../common/events.ts";
import type { Logger } from "../common/logger.ts";
import type { OperatorSubtaskState } from "../generated/records.ts";
import type { LeaderInfo } from "../ha/election-driver.ts";
import type { LeaderRetrievalListener } from "../ha/leader-retrieval-service.ts";
import { boundedCall } from "./bounded-call.ts";
import type { EpochFence } from "./epoch-fence.ts";
import {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_HEARTBEAT_TIMEOUT_MS,
  type Registration,
} from "./registration.ts";
import type { TaskExecutor } from "./task-executor.ts";
import type { TaskStateChange } from "./task-lifecycle.ts";
import {
  type ActiveRegistration as Active,
  cancelFrom,
  heartbeatUntilLeaseEnds,
  type ResourceManagerClient,
} from "./task-lease.ts";

export interface LeaderConnectionOptions {
  readonly id: string;
  /** host:port of this TaskManager's TaskExecutor service, sent in every registration. */
  readonly address: string;
  readonly slots: number;
  readonly fence: EpochFence;
  readonly executor: TaskExecutor;
  readonly connect: (address: string) => ResourceManagerClient;
  readonly logger: Logger;
  readonly events: EventSink;
  /** Registration back-off; default 50 ms doubling to 1 s. */
  readonly retry?: { readonly minMs: number; readonly maxMs: number };
  /**
   * How long cancelled tasks may take to stop (new leader, leader's cancel) before that is fatal; default the
   * heartbeat timeout of the latest registration. Tasks of an ended lease must be dead by its end regardless.
   */
  readonly taskCancellationTimeoutMs?: number;
}

/** Bound on a registration call before the leader has told us its heartbeat timeout (which bounds later ones). */
const REGISTER_TIMEOUT_MS = DEFAULT_HEARTBEAT_TIMEOUT_MS;
const UPDATE_TIMEOUT_MS = 2_000;

export class LeaderConnection implements LeaderRetrievalListener {
  private target: LeaderInfo | undefined;
  private follower: AbortController | undefined;
  private following: Promise<void> = Promise.resolve();
  private active: Active | undefined;
  /** The registration a newer leader's publication replaced while its lease held: its tasks die by its end. */
  private superseded: Active | undefined;
  private heartbeatTimeoutMs = DEFAULT_HEARTBEAT_TIMEOUT_MS;
  private waiting = false;
  /** The epoch of the leader a registration call is in flight to, and who waits for its outcome. */
  private registering: bigint | undefined;
  private readonly registrationWaiters = new Set<() => void>();
  private closed = false;
  private readonly closeController = new AbortController();

  constructor(private readonly options: LeaderConnectionOptions) {}

  /**
   * The registration whose task lease holds right now (checked against the monotonic clock), if any. It ends
   * when its tasks start being cancelled, a cancel budget before the lease end: no task starts after that.
   */
  get registration(): Registration | undefined {
    const active = this.active;
    return active && monotonicNow() < cancelFrom(active) ? active.registration : undefined;
  }

  /** How long cancelled tasks may take to stop before that is a fatal error. */
  get cancellationTimeoutMs(): number {
    return this.options.taskCancellationTimeoutMs ?? this.heartbeatTimeoutMs;
  }

  /**
   * Resolves once no registration with the leader of `epoch` is in flight (at once when none is), or when
   * `signal` aborts. Never rejects. Bounded: every registration attempt has a deadline.
   */
  awaitRegistration(epoch: bigint, signal: AbortSignal | undefined): Promise<void> {
    if (this.registering !== epoch || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.registrationWaiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      this.registrationWaiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** The leader retrieval listener. Synchronous: raises the fence and hands over to a new follow loop. */
  notifyLeader(info: LeaderInfo | undefined): void {
    if (this.closed) return;
    const { logger } = this.options;
    if (!info) {
      if (!this.waiting) {
        logger.info(
          this.target
            ? "no JobManager leader is published; tasks keep running until their lease passes"
            : "waiting for a JobManager leader to be published",
          this.target ? { epoch: this.target.epoch } : {},
        );
      }
      this.waiting = true;
      return;
    }
    this.waiting = false;
    if (info.epoch < this.options.fence.highest) {
      logger.warn("ignoring a published leader older than one already seen", {
        epoch: info.epoch,
        highest: this.options.fence.highest,
        leader: info.address,
      });
      return;
    }
    if (this.target && this.target.epoch === info.epoch && this.target.address === info.address) return;
    this.options.fence.observe(info.epoch);
    logger.info("new JobManager leader", { epoch: info.epoch, leader: info.address, name: info.name });
    this.target = info;
    // Deploys of an older registration are refused from this instant, not once the old loop notices.
    if (this.active && this.active.registration.epoch < info.epoch) {
      this.superseded = this.active;
      this.active = undefined;
    }
    this.follower?.abort(new LifecycleError(`superseded by the leader of epoch ${info.epoch}`));
    const follower = new AbortController();
    this.follower = follower;
    this.following = this.following
      .then(() => this.follow(info, follower.signal))
      .catch((e: unknown) => {
        logger.error("following the JobManager leader failed", {
          epoch: info.epoch,
          error: describeCause(e),
        });
      });
  }

  handleError(error: Error): void {
    this.options.logger.warn("leader retrieval trouble; it keeps trying", { error: error.message });
  }

  /** Pushes a task's new state to the leader that deployed it, if still registered. Best effort. */
  reportTaskState(change: TaskStateChange): void {
    const active = this.active;
    const registration = this.registration;
    if (!active || registration !== active.registration || change.epoch !== registration.epoch) return;
    const what = `task state update to ${registration.leader}`;
    void boundedCall(
      (signal) =>
        active.client.updateTaskState(
          {
            taskmanagerId: this.options.id,
            registrationId: registration.registrationId,
            epoch: registration.epoch,
            task: change.status,
          },
          { signal, timeoutMs: UPDATE_TIMEOUT_MS },
        ),
      { signal: this.closeController.signal, timeoutMs: UPDATE_TIMEOUT_MS, what },
    ).catch((e: unknown) => {
      // The next heartbeat carries the same state.
      this.options.logger.debug(`${what} failed`, { error: describeCause(e) });
    });
  }

  /**
   * Reports a task's checkpoint ack (`states`) or decline (`reason`) to the leader of `epoch`, if this
   * TaskManager is still registered with it; otherwise, or when the call fails, the checkpoint times out on the
   * leader's side. Best effort; never throws.
   */
  reportCheckpoint(
    epoch: bigint,
    executionId: string,
    checkpointId: bigint,
    outcome: { readonly states: OperatorSubtaskState[] } | { readonly reason: string },
  ): void {
    const active = this.active;
    const registration = this.registration;
    const what = `checkpoint ${checkpointId} ${"states" in outcome ? "ack" : "decline"} of ${executionId}`;
    if (!active || registration !== active.registration || epoch !== registration.epoch) {
      this.options.logger.debug(`${what} not sent: not registered with the leader of epoch ${epoch}`);
      return;
    }
    const base = {
      taskmanagerId: this.options.id,
      registrationId: registration.registrationId,
      epoch,
      executionId,
      checkpointId,
    };
    void boundedCall(
      (signal) =>
        "states" in outcome
          ? active.client.acknowledgeCheckpoint(
              { ...base, states: outcome.states },
              { signal, timeoutMs: UPDATE_TIMEOUT_MS },
            )
          : active.client.declineCheckpoint(
              { ...base, reason: outcome.reason },
              { signal, timeoutMs: UPDATE_TIMEOUT_MS },
            ),
      { signal: this.closeController.signal, timeoutMs: UPDATE_TIMEOUT_MS, what },
    ).catch((e: unknown) => {
      this.options.logger.warn(`${what} to ${registration.leader} failed`, { error: describeCause(e) });
    });
  }

  /** Stops following and heartbeating (tasks are the executor's to stop). Idempotent. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.active = undefined;
      const reason = new LifecycleError(`taskmanager ${this.options.id} is closing`);
      this.follower?.abort(reason);
      this.closeController.abort(reason);
    }
    await this.following;
  }

  /** Owns the relationship with one leader until `signal` aborts (a newer leader, or close). Never rejects. */
  private async follow(leader: LeaderInfo, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const { executor, logger } = this.options;
    // Bounded twice: by the cancellation timeout, and by the end of a lease that still held when the new
    // leader was published (that leader may deploy elsewhere once it has run out).
    let deadline = monotonicNow() + this.cancellationTimeoutMs;
    const superseded = this.superseded;
    this.superseded = undefined;
    if (superseded && superseded.registration.epoch < leader.epoch) {
      deadline = Math.min(deadline, superseded.leaseDeadline);
    }
    await executor.cancelWhere(
      (epoch) => epoch < leader.epoch,
      `a new JobManager leader with epoch ${leader.epoch} was published`,
      deadline,
    );
    executor.retireOlderThan(leader.epoch);
    if (signal.aborted) return;
    if (executor.failed) {
      // Registering tells the new leader that the older tasks have stopped, which is not known to be true.
      logger.error("not registering with the new leader: tasks of an older leader did not stop", {
        epoch: leader.epoch,
      });
      return;
    }
    const client = this.options.connect(leader.address);
    let timeoutMs = REGISTER_TIMEOUT_MS;
    try {
      while (!signal.aborted) {
        try {
          const active = await this.register(client, leader, signal, timeoutMs);
          timeoutMs = active.registration.heartbeatTimeoutMs;
          const end = await heartbeatUntilLeaseEnds(active, this.options, signal);
          if (this.active === active) this.active = undefined;
          const { epoch, heartbeatTimeoutMs } = active.registration;
          const endsIn = Math.max(0, Math.round(active.leaseDeadline - monotonicNow()));
          const lease = `the task lease of epoch ${epoch} ends in ${endsIn} ms`;
          let reason: string;
          if (end === "lease-expired") {
            reason = `no heartbeat answered by ${leader.address} renewed the lease (heartbeat timeout ${heartbeatTimeoutMs} ms); ${lease}`;
            logger.warn("leader lost: task lease ending", { epoch, leader: leader.address, endsIn });
            this.emit({ event: "leader-lost", epoch, reason });
          } else if (end === "not-leader") {
            reason = `${leader.address} answered a heartbeat with NOT_LEADER (deposed, it never renews the lease); ${lease}`;
            logger.warn("leader lost: it answered NOT_LEADER", { epoch, leader: leader.address, endsIn });
            this.emit({ event: "leader-lost", epoch, reason });
          } else {
            reason = `the leader of epoch ${epoch} no longer knows this registration; ${lease}`;
            logger.warn("leader answered registered=false; cancelling its tasks and registering again", {
              epoch,
              leader: leader.address,
            });
          }
          // Dead by the lease end, which the leader side counts on; they had a cancel budget at least.
          await executor.cancelWhere((e) => e <= epoch, reason, active.leaseDeadline);
          if (executor.failed) return;
        } catch (e: unknown) {
          if (signal.aborted) break;
          logger.error("leader connection loop failed; retrying", { error: describeCause(e) });
          await sleep(this.options.retry?.maxMs ?? 1_000, signal).catch(() => undefined);
        }
      }
    } finally {
      if (this.active?.client === client) this.active = undefined;
      client.close();
    }
  }

  /**
   * Registers until the leader answers (back-off between attempts), each attempt bounded by `timeoutMs`;
   * rejects only when `signal` aborts.
   */
  private async register(
    client: ResourceManagerClient,
    leader: LeaderInfo,
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<Active> {
    const { logger } = this.options;
    const minMs = this.options.retry?.minMs ?? 50;
    const maxMs = this.options.retry?.maxMs ?? 1_000;
    let delay = minMs;
    let failures = 0;
    for (;;) {
      signal.throwIfAborted();
      const sent = monotonicNow();
      this.registering = leader.epoch;
      try {
        const response = await boundedCall(
          (s) =>
            client.registerTaskManager(
              {
                taskmanagerId: this.options.id,
                address: this.options.address,
                slots: this.options.slots,
                epoch: leader.epoch,
              },
              { signal: s, timeoutMs },
            ),
          { signal, timeoutMs, what: `registration with ${leader.address}` },
        );
        if (response.epoch !== leader.epoch) {
          throw new InternalError(
            `${leader.address} answered the registration with epoch ${response.epoch}, but it was published with epoch ${leader.epoch}`,
          );
        }
        const registration: Registration = {
          epoch: response.epoch,
          registrationId: response.registrationId,
          leader: leader.address,
          heartbeatIntervalMs: response.heartbeatIntervalMs || DEFAULT_HEARTBEAT_INTERVAL_MS,
          heartbeatTimeoutMs: response.heartbeatTimeoutMs || DEFAULT_HEARTBEAT_TIMEOUT_MS,
        };
        const active: Active = {
          registration,
          client,
          leaseDeadline: sent + registration.heartbeatTimeoutMs,
        };
        signal.throwIfAborted();
        this.options.fence.observe(registration.epoch);
        this.heartbeatTimeoutMs = registration.heartbeatTimeoutMs;
        this.active = active;
        this.registrationSettled();
        logger.info("registered with the JobManager leader", {
          epoch: registration.epoch,
          leader: leader.address,
          registration: registration.registrationId,
        });
        this.emit({ event: "registered", epoch: registration.epoch, leader: leader.address });
        return active;
      } catch (e: unknown) {
        this.registrationSettled();
        if (signal.aborted) throw signal.reason;
        failures += 1;
        // The first failure says why; repeating it every second would drown the log.
        const fields = { epoch: leader.epoch, attempt: failures, error: describeCause(e) };
        const deposed = e instanceof VigilError && e.code === "NOT_LEADER";
        // A deposed leader holds no lease of ours (a registration follows the stop of its tasks): nothing to
        // cancel; leader retrieval will publish its successor, which ends this loop. Until then, ask rarely.
        const message = deposed
          ? `${leader.address} answered the registration with NOT_LEADER (deposed); waiting for leader retrieval to publish the new leader`
          : `registration with ${leader.address} failed; retrying`;
        if (failures === 1 || failures % 30 === 0) logger.warn(message, fields);
        else logger.debug(message, fields);
        await sleep(deposed ? maxMs : delay, signal);
        delay = Math.min(delay * 2, maxMs);
      }
    }
  }

  /** Wakes the deploys that waited for the registration call in flight: it has been answered, or failed. */
  private registrationSettled(): void {
    this.registering = undefined;
    for (const wake of [...this.registrationWaiters]) wake();
  }

  private emit(event: { event: string; [field: string]: unknown }): void {
    try {
      this.options.events(event);
    } catch (e: unknown) {
      this.options.logger.error("event sink threw", { event: event.event, error: describeCause(e) });
    }
  }
}
