// A job's checkpointing settings: the `checkpointing` object of its job config, with Flink's names and
// defaults (execution.checkpointing.interval / timeout / max-concurrent-checkpoints /
// min-pause / num-retained, tolerable-failed-checkpoints).
//
//   { "checkpointing": { "intervalMs": 500, "timeoutMs": 60000, "maxConcurrent": 1, "minPauseMs": 0,
//                        "retain": 1, "tolerableFailures": 3 } }
//
// Every key is optional; an absent `checkpointing` object means DEFAULT_CHECKPOINT_CONFIG (disabled).
import type { ConfigReader } from "../runtime/config-reader.ts";

export interface CheckpointConfig {
  /** Time between periodic checkpoints; 0 = periodic checkpoints disabled (savepoints still work). */
  readonly intervalMs: number;
  /** A checkpoint not completed within this time is aborted. */
  readonly timeoutMs: number;
  /** Periodic checkpoints in flight at once (savepoints may exceed it). */
  readonly maxConcurrent: number;
  /** Least time from the end of one completed checkpoint to the next periodic trigger; > 0 implies one at a time. */
  readonly minPauseMs: number;
  /** Completed checkpoints kept (their pointers and files); older ones are subsumed. */
  readonly retain: number;
  /** Consecutive failed periodic checkpoints tolerated; one more fails the job. Infinity = unlimited. */
  readonly tolerableFailures: number;
}

export const DEFAULT_CHECKPOINT_CONFIG: CheckpointConfig = {
  intervalMs: 0,
  timeoutMs: 60_000,
  maxConcurrent: 1,
  minPauseMs: 0,
  retain: 1,
  tolerableFailures: Number.POSITIVE_INFINITY,
};

/** Flink's lower bound for the interval and the timeout: anything shorter only measures the overhead. */
export const MIN_CHECKPOINT_TIME_MS = 10;
/** setTimeout fires at once beyond 2^31 - 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Reads the `checkpointing` object (the caller passes `reader.optionalObject("checkpointing")` when present)
 * and finishes it: unknown keys are refused, and every error is an InvalidArgumentError naming the key,
 * e.g. "job config: checkpointing.intervalMs: must be 0 (disabled) or at least 10".
 */
export function readCheckpointConfig(reader: ConfigReader): CheckpointConfig {
  const d = DEFAULT_CHECKPOINT_CONFIG;
  const intervalMs = reader.optionalInteger("intervalMs", { min: 0, max: MAX_TIMER_MS }) ?? d.intervalMs;
  if (intervalMs !== 0 && intervalMs < MIN_CHECKPOINT_TIME_MS) {
    reader.fail("intervalMs", `must be 0 (disabled) or at least ${MIN_CHECKPOINT_TIME_MS}`);
  }
  const config: CheckpointConfig = {
    intervalMs,
    timeoutMs:
      reader.optionalInteger("timeoutMs", { min: MIN_CHECKPOINT_TIME_MS, max: MAX_TIMER_MS }) ?? d.timeoutMs,
    maxConcurrent: reader.optionalInteger("maxConcurrent", { min: 1 }) ?? d.maxConcurrent,
    minPauseMs: reader.optionalInteger("minPauseMs", { min: 0, max: MAX_TIMER_MS }) ?? d.minPauseMs,
    retain: reader.optionalInteger("retain", { min: 1 }) ?? d.retain,
    tolerableFailures: reader.optionalInteger("tolerableFailures", { min: 0 }) ?? d.tolerableFailures,
  };
  reader.finish();
  return config;
}
