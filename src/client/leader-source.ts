// Where a ClusterClient looks for the JobManager leader: a fixed list of addresses (any JobManager redirects
// to the leader), or HA leader retrieval (the published leader, authoritative). The client's retry loop is
// the same for both; only "whom to try" and "when to look again" differ.
import { sleep } from "../common/clock.ts";
import { LifecycleError } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import type { HaConfig } from "../config/ha-config.ts";
import type { HaBackend } from "../ha/backend.ts";
import type { LeaderInfo } from "../ha/election-driver.ts";
import { createHaBackend } from "../ha/factory.ts";
import { JOBMANAGER_ELECTION } from "../ha/keys.ts";
import { LeaderRetrievalService } from "../ha/leader-retrieval-service.ts";
import type { MemoryCoordinator } from "../ha/memory/index.ts";

export interface LeaderSource {
  /** Addresses to try now, best first; `hint` is the last address that answered or was named as leader. */
  candidates(hint: string | undefined, signal: AbortSignal): Promise<readonly string[]>;
  /** Resolves after `ms`, or sooner when the source learns of a new leader. Rejects when `signal` aborts. */
  settle(ms: number, signal: AbortSignal): Promise<void>;
  /** The published leader, when the source follows one (HA); undefined for address lists. */
  published(): LeaderInfo | undefined;
  /** Says where leaders were looked for, for "nothing reachable" messages. */
  readonly description: string;
  /** Idempotent. */
  close(): Promise<void>;
}

export class AddressListSource implements LeaderSource {
  readonly description: string;

  constructor(private readonly addresses: readonly string[]) {
    this.description = `the JobManagers at ${addresses.join(", ")}`;
  }

  async candidates(hint: string | undefined): Promise<readonly string[]> {
    return hint === undefined ? this.addresses : [hint, ...this.addresses.filter((a) => a !== hint)];
  }

  settle(ms: number, signal: AbortSignal): Promise<void> {
    return sleep(ms, signal);
  }

  published(): undefined {
    return undefined;
  }

  async close(): Promise<void> {}
}

/** Follows JOBMANAGER_ELECTION through its own HA backend client, connected on first use. */
export class HaRetrievalSource implements LeaderSource {
  readonly description: string;
  private starting: Promise<LeaderRetrievalService> | undefined;
  private closed = false;
  private current: LeaderInfo | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly opened: Array<{ close(): Promise<void> }> = [];

  constructor(
    private readonly config: HaConfig,
    private readonly logger: Logger,
    private readonly memory?: MemoryCoordinator,
  ) {
    const where = config.endpoints.length ? ` at ${config.endpoints.join(",")}` : "";
    this.description = `leader retrieval in ${config.backend}${where} (cluster ${config.clusterId})`;
  }

  async candidates(_hint: string | undefined, signal: AbortSignal): Promise<readonly string[]> {
    // The published address is authoritative; a NOT_LEADER redirect is followed by the client itself.
    await abortable(this.start(), signal);
    return this.current?.address ? [this.current.address] : [];
  }

  settle(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(finish);
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = (): void => {
        clearTimeout(timer);
        this.waiters.delete(finish);
        reject(signal.reason);
      };
      if (signal.aborted) return onAbort();
      const timer = setTimeout(finish, ms);
      this.waiters.add(finish);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  published(): LeaderInfo | undefined {
    return this.current;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.starting?.catch(() => undefined);
    for (const o of this.opened.splice(0).reverse()) await o.close();
  }

  private start(): Promise<LeaderRetrievalService> {
    if (this.closed) return Promise.reject(new LifecycleError("cluster client is closed"));
    if (!this.starting) {
      const starting = this.connect();
      this.starting = starting;
      // A failed connect is not remembered: the next call tries again.
      starting.catch(() => {
        if (this.starting === starting) this.starting = undefined;
      });
    }
    return this.starting;
  }

  private async connect(): Promise<LeaderRetrievalService> {
    const backend: HaBackend = createHaBackend(this.config, this.logger, this.memory);
    try {
      await backend.connect();
      const retrieval = new LeaderRetrievalService(backend.createRetrievalDriver(JOBMANAGER_ELECTION));
      await retrieval.start({
        notifyLeader: (info) => {
          this.current = info;
          this.logger.debug("cluster client: leader changed", { address: info?.address, epoch: info?.epoch });
          for (const wake of [...this.waiters]) wake();
        },
        handleError: (e) =>
          this.logger.warn("cluster client: leader retrieval trouble", { error: e.message }),
      });
      this.opened.push(backend, retrieval);
      return retrieval;
    } catch (e: unknown) {
      await backend.close().catch(() => undefined);
      throw e;
    }
  }
}

/** `promise`, or the signal's reason when it aborts first (the promise itself keeps running). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
