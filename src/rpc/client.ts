// A client of one vigil service at one address. Every call has a deadline and can be cancelled by its
// AbortSignal; failures arrive as vigil errors (errors.ts), so callers handle NotLeaderError, StaleEpoch
// codes and "outcome unknown" the same way whether the peer is in-process or remote.
import {
  Client,
  type ClientOptions,
  connectivityState,
  credentials,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { CancelledError, LifecycleError } from "../common/errors.ts";
import {
  type AnyMethodTable,
  type CallOptions,
  DEFAULT_CALL_TIMEOUT_MS,
  type MethodDescriptor,
  type MethodTable,
  type ServiceOf,
} from "./call.ts";
import { fromStatus } from "./errors.ts";

export type RpcClient<S> = S & { readonly address: string; close(): void };

export interface RpcClientOptions {
  /** Deadline of a call that does not pass its own timeoutMs. Default DEFAULT_CALL_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  /**
   * A TCP connection of its own. grpc-js pools connections process-wide by target and channel options, so by
   * default every client of one address in a process shares one HTTP/2 connection; a benchmark that simulates
   * many processes in one needs a private pool per client.
   */
  readonly privateConnection?: boolean;
}

// Fail over fast on loopback: a restarted peer is found again within ~1 s, and a call to a peer that is
// down fails at once (UNAVAILABLE, no waitForReady) so the caller can try another address.
const CHANNEL_OPTIONS: ClientOptions = {
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1_000,
};

/**
 * A client of one service at one address; calls map gRPC failures back to vigil errors (NotLeaderError with
 * the leader's address, StaleEpochError's code, UnavailableError, DeadlineExceededError, …). Connects
 * lazily on the first call; close() is idempotent and later calls reject with LifecycleError. The service
 * type is inferred from the table (`createClient(TaskExecutorMethods, a)`) or given (`createClient<S>(…)`).
 */
export function createClient<T extends AnyMethodTable>(
  methods: T,
  address: string,
  options?: RpcClientOptions,
): RpcClient<ServiceOf<T>>;
export function createClient<S>(
  methods: MethodTable<S>,
  address: string,
  options?: RpcClientOptions,
): RpcClient<S>;
export function createClient(
  methods: AnyMethodTable,
  address: string,
  options: RpcClientOptions = {},
): RpcClient<unknown> {
  const grpc = new Client(
    address,
    credentials.createInsecure(),
    options.privateConnection ? { ...CHANNEL_OPTIONS, "grpc.use_local_subchannel_pool": 1 } : CHANNEL_OPTIONS,
  );
  const defaultTimeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  let closed = false;
  const client: Record<string, unknown> = {
    address,
    close(): void {
      if (closed) return;
      closed = true;
      grpc.close();
    },
  };
  for (const [name, method] of Object.entries(methods)) {
    const label = method.path.slice(method.path.lastIndexOf(".") + 1);
    client[name] = (request: unknown, callOptions: CallOptions = {}): Promise<unknown> => {
      if (closed)
        return Promise.reject(
          new LifecycleError(`${label} to ${address}: the client is closed; nothing was sent`),
        );
      return call(
        grpc,
        method,
        label,
        address,
        request,
        callOptions.timeoutMs ?? defaultTimeoutMs,
        callOptions.signal,
      );
    };
  }
  return client as RpcClient<unknown>;
}

function call(
  grpc: Client,
  method: MethodDescriptor<unknown, unknown>,
  label: string,
  address: string,
  request: unknown,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  if (signal?.aborted)
    return Promise.reject(
      new CancelledError(`${label} to ${address}: cancelled before it was sent`, signal.reason),
    );
  return new Promise((resolve, reject) => {
    let cancelledByCaller = false;
    let connectedAtCancel = true;
    const onAbort = (): void => {
      cancelledByCaller = true;
      // Calls only travel over a READY connection: cancelled while there was none, it was never sent.
      connectedAtCancel = grpc.getChannel().getConnectivityState(false) === connectivityState.READY;
      pending.cancel();
    };
    const pending = grpc.makeUnaryRequest(
      method.path,
      (m: unknown) => Buffer.from(method.request.encode(m)),
      (b: Buffer) => method.response.decode(b),
      request,
      new Metadata(),
      { deadline: Date.now() + timeoutMs },
      (error: ServiceError | null, response?: unknown) => {
        signal?.removeEventListener("abort", onAbort);
        if (error) {
          reject(
            fromStatus(error, { method: label, address, timeoutMs, cancelledByCaller, connectedAtCancel }),
          );
        } else resolve(response);
      },
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
