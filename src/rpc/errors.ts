// Vigil errors across the wire. The server turns a thrown VigilError into a gRPC status plus metadata that
// keeps its code (and a NotLeaderError's leader address); the client turns it back, so a caller sees the same
// error family whichever side of the wire it came from. Failures of the transport itself (no answer, peer
// down, our own cancel) carry no vigil code and get their own messages naming the method and address.
// A transport failure is one of two outcomes: "not delivered" (no connection, nothing sent: the peer did
// nothing) or "sent, then lost" (the peer may have done the work). The second is a ConnectionLostError so
// no caller reports an operation that may have happened as failed.
import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import {
  BackendUnavailableError,
  CancelledError,
  ConfigError,
  DeadlineExceededError,
  type ErrorCode,
  InternalError,
  InvalidArgumentError,
  LifecycleError,
  NotLeaderError,
  UnavailableError,
  VigilError,
} from "../common/errors.ts";

export const ERROR_CODE_KEY = "vigil-error-code";
export const LEADER_ADDRESS_KEY = "vigil-leader-address";
/** Set on a remote UNAVAILABLE whose outcome is unknown (the handler was cut off or lost a call itself). */
export const OUTCOME_UNKNOWN_KEY = "vigil-outcome-unknown";

/** Every vigil code and the gRPC status it travels as. One table, both directions. */
export const STATUS_OF_CODE: Readonly<Record<ErrorCode, status>> = {
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  VERSION_CONFLICT: status.ABORTED,
  STALE_FENCE: status.FAILED_PRECONDITION,
  // The write may or may not have landed: not retry-safe like UNAVAILABLE, not a plain failure either.
  POSSIBLY_INCONSISTENT: status.UNKNOWN,
  LEADERSHIP_LOST: status.FAILED_PRECONDITION,
  NOT_LEADER: status.FAILED_PRECONDITION,
  CORRUPT_RECORD: status.DATA_LOSS,
  RECORD_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  BACKEND_UNAVAILABLE: status.UNAVAILABLE,
  CONFIG: status.INVALID_ARGUMENT,
  LIFECYCLE: status.FAILED_PRECONDITION,
  STALE_EPOCH: status.FAILED_PRECONDITION,
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  UNAVAILABLE: status.UNAVAILABLE,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  CANCELLED: status.CANCELLED,
  INTERNAL: status.INTERNAL,
};

const CODES = new Set<string>(Object.keys(STATUS_OF_CODE));

function isErrorCode(value: string): value is ErrorCode {
  return CODES.has(value);
}

/**
 * A vigil error raised by the remote peer whose class has no message-only constructor (StaleEpochError,
 * NotFoundError, …): same `code` and message as the original. Test `code`, not the class, for these.
 */
export class RemoteError extends VigilError {
  constructor(
    code: ErrorCode,
    message: string,
    /** The address of the peer that raised it. */
    readonly address: string,
  ) {
    super(code, message);
  }
}

/**
 * UNAVAILABLE after the request may have reached the peer: the connection dropped, the stream was reset or
 * the peer shut down mid-call. Retrying elsewhere is fine for idempotent calls, but until one succeeds the
 * outcome is unknown, never "failed". A plain UnavailableError means the call was not delivered.
 */
export class ConnectionLostError extends UnavailableError {
  readonly outcomeUnknown = true;
}

/**
 * The transport failures that happen before a request leaves the client (grpc-js 1.x details): no
 * connection to pick (refused, unresolvable, closed channel), or the peer refused the stream, which HTTP/2
 * guarantees it did not process (RFC 9113 §8.7). Every other UNAVAILABLE may follow a delivered request.
 */
const NOT_DELIVERED = [
  "No connection established",
  "Channel closed before call started",
  "Stream refused by server",
  "Name resolution failed",
  "Failed to parse",
];

function notDelivered(details: string): boolean {
  return NOT_DELIVERED.some((prefix) => details.startsWith(prefix));
}

/** What a server sends back for a failed call: a status with details and metadata. */
export interface StatusOutcome {
  readonly code: status;
  readonly details: string;
  readonly metadata: Metadata;
}

/** A handler's error as a gRPC status. `vigil` says whether it was a VigilError (else log it: a bug). */
export function toStatus(error: unknown): StatusOutcome & { readonly vigil: boolean } {
  const metadata = new Metadata();
  if (error instanceof VigilError) {
    metadata.set(ERROR_CODE_KEY, error.code);
    if (error instanceof NotLeaderError && error.leaderAddress)
      metadata.set(LEADER_ADDRESS_KEY, error.leaderAddress);
    if (error instanceof ConnectionLostError) metadata.set(OUTCOME_UNKNOWN_KEY, "true");
    return { code: STATUS_OF_CODE[error.code], details: error.message, metadata, vigil: true };
  }
  const details = error instanceof Error ? error.message : String(error);
  return { code: status.INTERNAL, details: `internal error: ${details}`, metadata, vigil: false };
}

/** Where a failed call was going, for messages. */
export interface CallSite {
  /** "Service/Method". */
  readonly method: string;
  readonly address: string;
  readonly timeoutMs: number;
  /** True when the caller's own AbortSignal cancelled the call. */
  readonly cancelledByCaller: boolean;
  /** False when the caller cancelled while the channel had no ready connection (the call was never sent). */
  readonly connectedAtCancel?: boolean;
}

/** A failed call's status as the vigil error a caller handles. */
export function fromStatus(
  error: Pick<ServiceError, "code" | "details" | "metadata">,
  site: CallSite,
): VigilError {
  const code = firstString(error.metadata, ERROR_CODE_KEY);
  if (code !== undefined && isErrorCode(code)) return remoteError(code, error, site);
  const where = `${site.method} to ${site.address}`;
  switch (error.code) {
    case status.DEADLINE_EXCEEDED:
      // grpc-js says "Waiting for LB pick" when the deadline passed before the call got a connection: it was
      // never sent (a sent call's details name its remote_addr instead).
      if (error.details.includes("Waiting for LB pick"))
        return new UnavailableError(
          `${where}: no connection within ${site.timeoutMs} ms, not delivered; is the process at ${site.address} running?`,
        );
      return new DeadlineExceededError(`${where}: no answer within ${site.timeoutMs} ms; outcome unknown`);
    case status.CANCELLED:
      if (site.cancelledByCaller && site.connectedAtCancel === false)
        return new UnavailableError(
          `${where}: cancelled by the caller before a connection was made; not delivered`,
        );
      if (site.cancelledByCaller)
        return new CancelledError(`${where}: cancelled by the caller; outcome unknown`);
      // The peer ended the call (a forced shutdown): it may have done the work or not.
      return new ConnectionLostError(
        `${where}: the call was ended by the peer (${error.details}); outcome unknown`,
      );
    case status.UNAVAILABLE:
      if (notDelivered(error.details))
        return new UnavailableError(
          `${where}: unavailable, not delivered (${error.details}); is the process at ${site.address} running?`,
        );
      return new ConnectionLostError(
        `${where}: the connection was lost during the call (${error.details}); outcome unknown`,
      );
    case status.UNIMPLEMENTED:
      return new InternalError(
        `${where}: the peer does not serve this method (${error.details}); is ${site.address} the right kind of vigil process?`,
      );
    case status.INTERNAL:
      // A stream reset without a gRPC status: the request was sent and the answer never came.
      if (error.details.startsWith("Received RST_STREAM"))
        return new ConnectionLostError(
          `${where}: the call was reset by the peer (${error.details}); outcome unknown`,
        );
      return new InternalError(`${where}: INTERNAL: ${error.details}`);
    default:
      return new InternalError(`${where}: ${status[error.code] ?? error.code}: ${error.details}`);
  }
}

function remoteError(
  code: ErrorCode,
  error: Pick<ServiceError, "details" | "metadata">,
  site: CallSite,
): VigilError {
  const message = error.details;
  switch (code) {
    case "NOT_LEADER":
      return new NotLeaderError(firstString(error.metadata, LEADER_ADDRESS_KEY) || undefined);
    case "UNAVAILABLE":
      return firstString(error.metadata, OUTCOME_UNKNOWN_KEY) === "true"
        ? new ConnectionLostError(message)
        : new UnavailableError(message);
    case "BACKEND_UNAVAILABLE":
      return new BackendUnavailableError(message);
    case "DEADLINE_EXCEEDED":
      return new DeadlineExceededError(message);
    case "CANCELLED":
      return new CancelledError(message);
    case "INTERNAL":
      return new InternalError(message);
    case "INVALID_ARGUMENT":
      return new InvalidArgumentError(message);
    case "CONFIG":
      return new ConfigError(message);
    case "LIFECYCLE":
      return new LifecycleError(message);
    default:
      return new RemoteError(code, message, site.address);
  }
}

function firstString(metadata: Metadata | undefined, key: string): string | undefined {
  const value = metadata?.get(key)[0];
  return typeof value === "string" ? value : undefined;
}
