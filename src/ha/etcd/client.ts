// The etcd3 client as the HA drivers use it: built from HaConfig with etcd3's own fault handling switched off,
// plus the one place that decides what a failed call means (DESIGN.md §7, STYLE.md "three outcomes").
//
// etcd3's defaults are unsafe for us: its global policy retries a call three times (a write whose reply was
// lost would be applied twice, and a create would then report "already exists" for its own write), its per-host
// circuit breaker refuses every call for 5 s after three failures (longer than a lease TTL), and its watch
// reconnect back-off grows to 30 s. We retry ourselves, and only what was certainly not sent.
import { noop } from "cockatiel";
import { ClientClosedError, Etcd3, type IKeyValue, type Watcher } from "etcd3";
import { monotonicNow, sleep } from "../../common/clock.ts";
import {
  BackendUnavailableError,
  describeCause,
  PossiblyInconsistentStateError,
} from "../../common/errors.ts";
import type { Logger } from "../../common/logger.ts";
import type { HaConfig } from "../../config/ha-config.ts";

/** What every etcd driver and the store share: one client per backend. */
export interface EtcdContext {
  readonly client: Etcd3;
  /**
   * One client per member when there are several (else just `client`): lease keepalives go to every member at
   * once, so that one frozen member (calls to it hang until their deadline) cannot starve the zombie guard.
   */
  readonly keepaliveClients: readonly Etcd3[];
  readonly config: HaConfig;
  readonly logger: Logger;
}

export function createEtcdContext(config: HaConfig, logger: Logger): EtcdContext {
  const client = createEtcdClient(config, config.endpoints);
  const keepaliveClients =
    config.endpoints.length > 1 ? config.endpoints.map((e) => createEtcdClient(config, [e])) : [client];
  return { client, keepaliveClients, config, logger };
}

/** Closes every client of the context. */
export function closeEtcdContext(ctx: EtcdContext): void {
  for (const c of new Set([ctx.client, ...ctx.keepaliveClients])) c.close();
}

/**
 * Cancels an etcd3 watcher without waiting longer than the request timeout: etcd3 waits for the server to
 * confirm the cancel, which never comes from a frozen member.
 */
export async function cancelWatcher(ctx: EtcdContext, watcher: Watcher | undefined): Promise<void> {
  if (!watcher) return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ctx.config.requestTimeoutMs);
  });
  await Promise.race([watcher.cancel().catch(() => undefined), timeout]);
  clearTimeout(timer);
}

function createEtcdClient(config: HaConfig, endpoints: readonly string[]): Etcd3 {
  const reconnectMaxMs = Math.max(100, Math.round(config.ttlMs / 4));
  return new Etcd3({
    hosts: endpoints.map((e) => `http://${e}`),
    dialTimeout: config.connectTimeoutMs,
    grpcOptions: {
      // grpc-js waits up to 120 s between reconnect attempts by default; a restarted etcd must be found again
      // well within a lease TTL.
      "grpc.initial_reconnect_backoff_ms": 50,
      "grpc.max_reconnect_backoff_ms": reconnectMaxMs,
    },
    faultHandling: {
      host: () => noop,
      global: noop,
      watchBackoff: new DoublingBackoff(12, reconnectMaxMs),
    },
  });
}

/** etcd3 asks its watch back-off for `next()` before each reconnect and waits `duration` ms. */
class DoublingBackoff {
  constructor(
    readonly duration: number,
    private readonly maxMs: number,
  ) {}

  next(): DoublingBackoff {
    return new DoublingBackoff(Math.min(this.maxMs, this.duration * 2), this.maxMs);
  }
}

/** gRPC call options bounding one request. */
export function deadline(ms: number): { deadline: number } {
  return { deadline: Date.now() + ms };
}

/**
 * True when the call certainly never reached etcd: no connection was established (grpc-js fails such calls fast
 * with UNAVAILABLE "No connection established", or times them out "Waiting for LB pick"), or the client was
 * closed. Anything else may have been applied.
 */
export function wasNotSent(e: unknown): boolean {
  if (e instanceof ClientClosedError) return true;
  if (!(e instanceof Error)) return false;
  return (
    e.message.includes("No connection established") ||
    e.message.includes("Channel closed before call started") ||
    // DEADLINE_EXCEEDED while grpc-js was still choosing a connection (e.g. to a frozen member).
    e.message.includes("Waiting for LB pick")
  );
}

/**
 * Calls until it succeeds, with a doubling pause (10 ms to 200 ms). After each failure `verdict` gets the error
 * and whether the time is up, and returns the error to throw, or undefined to try again.
 */
async function retrying<T>(
  timeoutMs: number,
  call: (remainingMs: number) => Promise<T>,
  verdict: (e: unknown, outOfTime: boolean) => Error | undefined,
): Promise<T> {
  const until = monotonicNow() + timeoutMs;
  let delay = 10;
  for (;;) {
    try {
      return await call(Math.max(1, until - monotonicNow()));
    } catch (e: unknown) {
      const error = verdict(e, monotonicNow() + delay >= until);
      if (error) throw error;
      await sleep(delay);
      delay = Math.min(delay * 2, 200);
    }
  }
}

/**
 * Runs a read; retries calls that never reached etcd (another member may answer) until `timeoutMs`, then fails
 * with BackendUnavailableError. A read that was sent and failed is retried the same way: reads are idempotent.
 */
export function readWithRetry<T>(
  ctx: EtcdContext,
  what: string,
  call: (remainingMs: number) => Promise<T>,
  timeoutMs = ctx.config.requestTimeoutMs,
): Promise<T> {
  return retrying(timeoutMs, call, (e, outOfTime) => (outOfTime ? unavailable(ctx, what, e) : undefined));
}

/**
 * Runs a write. Calls that were certainly not sent are retried until the request timeout (then
 * BackendUnavailableError: nothing happened); a call that was sent and failed without a reply from etcd is
 * PossiblyInconsistentStateError: it may have landed.
 */
export function writeOnce<T>(
  ctx: EtcdContext,
  operation: string,
  key: string,
  call: (remainingMs: number) => Promise<T>,
): Promise<T> {
  return retrying(ctx.config.requestTimeoutMs, call, (e, outOfTime) => {
    if (!wasNotSent(e)) return new PossiblyInconsistentStateError(operation, key, e);
    return outOfTime ? unavailable(ctx, `${operation} ${key}`, e) : undefined;
  });
}

export function unavailable(ctx: EtcdContext, what: string, cause: unknown): BackendUnavailableError {
  return new BackendUnavailableError(
    `${what}: etcd at ${ctx.config.endpoints.join(",")} did not answer (${describeCause(cause)}); check that etcd runs there and is healthy`,
    cause,
  );
}

/** The end of the key range holding every key that starts with `prefix` (etcd's "prefix + 1"). */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

export function revisionOf(kv: IKeyValue | undefined, field: "create_revision" | "mod_revision"): bigint {
  return kv ? BigInt(kv[field]) : 0n;
}
