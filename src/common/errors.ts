// One small error hierarchy. Every error has a stable `code` (for the CLI, for gRPC metadata later) and a
// message that says what happened, where, and where it helps, how to fix it. Causes travel in `cause`.

export type ErrorCode =
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "VERSION_CONFLICT"
  | "STALE_FENCE"
  | "POSSIBLY_INCONSISTENT"
  | "LEADERSHIP_LOST"
  | "NOT_LEADER"
  | "CORRUPT_RECORD"
  | "RECORD_TOO_LARGE"
  | "BACKEND_UNAVAILABLE"
  | "CONFIG"
  | "LIFECYCLE"
  | "STALE_EPOCH"
  | "INVALID_ARGUMENT"
  | "UNAVAILABLE"
  | "DEADLINE_EXCEEDED"
  | "CANCELLED"
  | "INTERNAL";

export class VigilError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The key does not exist (get of a required record, replace, fenced remove with an expected version). */
export class NotFoundError extends VigilError {
  constructor(readonly key: string) {
    super("NOT_FOUND", `${key}: not found`);
  }
}

/** A create found the key already present. */
export class AlreadyExistsError extends VigilError {
  constructor(readonly key: string) {
    super("ALREADY_EXISTS", `${key}: already exists`);
  }
}

/** A compare-and-set found a different version than the caller read. */
export class VersionConflictError extends VigilError {
  constructor(
    readonly key: string,
    readonly expected: bigint,
    readonly actual: bigint | undefined,
  ) {
    super(
      "VERSION_CONFLICT",
      `${key}: version conflict: expected version ${expected}, found ${actual === undefined ? "no record" : actual}`,
    );
  }
}

/**
 * The backend refused a fenced write because the writer's leader session is gone: its campaign key / latch
 * node no longer exists with the writer's epoch. The write did not land.
 */
export class StaleFenceError extends VigilError {
  constructor(
    readonly epoch: bigint,
    readonly what: string,
  ) {
    super("STALE_FENCE", `${what}: refused: leader epoch ${epoch} is no longer the current leader session`);
  }
}

/** The outcome of a write is unknown (connection lost after sending, timeout). It may or may not have landed. */
export class PossiblyInconsistentStateError extends VigilError {
  constructor(
    readonly operation: string,
    readonly key: string,
    cause?: unknown,
  ) {
    super(
      "POSSIBLY_INCONSISTENT",
      `${operation} ${key}: outcome unknown (${describeCause(cause)}); read the key again before acting on it`,
      { cause },
    );
  }
}

/** A leader action was attempted after this process lost (or gave up) the leader session. Nothing was done. */
export class LeadershipLostError extends VigilError {
  constructor(
    readonly epoch: bigint,
    reason: string,
  ) {
    super("LEADERSHIP_LOST", `leader session with epoch ${epoch} is no longer valid: ${reason}`);
  }
}

/** A write went to a process that is not the leader; `leaderAddress` says where the leader is, if known. */
export class NotLeaderError extends VigilError {
  constructor(readonly leaderAddress: string | undefined) {
    super(
      "NOT_LEADER",
      leaderAddress
        ? `not the leader; the leader is at ${leaderAddress}`
        : "not the leader; no leader is known",
    );
  }
}

/** A stored record could not be decoded. Never skipped silently: recovery stops on it. */
export class CorruptRecordError extends VigilError {
  constructor(
    readonly key: string,
    detail: string,
    cause?: unknown,
  ) {
    super("CORRUPT_RECORD", `${key}: stored record cannot be read: ${detail}`, { cause });
  }
}

/** A value exceeds what the backend accepts; refused before it was sent. */
export class RecordTooLargeError extends VigilError {
  constructor(
    readonly key: string,
    readonly size: number,
    readonly limit: number,
    backend: string,
  ) {
    super(
      "RECORD_TOO_LARGE",
      `${key}: value of ${size} bytes exceeds the ${backend} limit of ${limit} bytes; store the payload in the blob store and keep a pointer`,
    );
  }
}

/** The coordinator (etcd / ZooKeeper) could not be reached within the timeout. */
export class BackendUnavailableError extends VigilError {
  constructor(message: string, cause?: unknown) {
    super("BACKEND_UNAVAILABLE", message, { cause });
  }
}

/** A configuration value (flag, file key, environment variable) is missing or invalid; the message names it. */
export class ConfigError extends VigilError {
  constructor(message: string) {
    super("CONFIG", message);
  }
}

/** An object was used against its lifecycle (started twice, used after close). */
export class LifecycleError extends VigilError {
  constructor(message: string) {
    super("LIFECYCLE", message);
  }
}

/**
 * A TaskManager (or any fenced receiver) refused a command of an older leader epoch than the highest it has
 * seen: the sender was deposed. Nothing was done.
 */
export class StaleEpochError extends VigilError {
  constructor(
    readonly epoch: bigint,
    readonly highest: bigint,
    readonly what: string,
  ) {
    super(
      "STALE_EPOCH",
      `${what}: refused: leader epoch ${epoch} is older than epoch ${highest}, the highest seen here (the sender was deposed)`,
    );
  }
}

/** A request is malformed or names something invalid (a JobGraph with a cycle, …); the message says what and where. */
export class InvalidArgumentError extends VigilError {
  constructor(message: string) {
    super("INVALID_ARGUMENT", message);
  }
}

/** A remote peer could not be reached. The call was not processed, or (for a dropped connection) may have been. */
export class UnavailableError extends VigilError {
  constructor(message: string, cause?: unknown) {
    super("UNAVAILABLE", message, { cause });
  }
}

/** A call's deadline passed before its answer arrived: its outcome is unknown. */
export class DeadlineExceededError extends VigilError {
  constructor(message: string, cause?: unknown) {
    super("DEADLINE_EXCEEDED", message, { cause });
  }
}

/** The caller cancelled the call (its AbortSignal fired): its outcome is unknown. */
export class CancelledError extends VigilError {
  constructor(message: string, cause?: unknown) {
    super("CANCELLED", message, { cause });
  }
}

/** A remote peer failed in a way that has no better code; the message is the peer's. */
export class InternalError extends VigilError {
  constructor(message: string, cause?: unknown) {
    super("INTERNAL", message, { cause });
  }
}

export function describeCause(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  if (cause === undefined) return "no detail";
  return String(cause);
}

/** Why reading a file failed, in words for an error message ("no such file", "it is a directory", …). */
export function fileReadFailure(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EISDIR") return "it is a directory";
  if (code === "EACCES") return "permission denied";
  return e instanceof Error ? e.message : String(e);
}

/**
 * This process's leadership is gone: refused locally (LeadershipLostError) or by the store (StaleFenceError).
 * Callers stop acting and, facing a client, answer NOT_LEADER; it is never the failure of what was attempted.
 */
export function isLeadershipLoss(e: unknown): boolean {
  return e instanceof LeadershipLostError || e instanceof StaleFenceError;
}
