// Job-level configuration (JobGraph.config_json): the restart strategy, as in Flink
// (`restart-strategy.type` none / fixed-delay / exponential-delay with the same parameters and defaults).
// Validated at submission; the job master parses it again when it starts the job.
//
//   { "restartStrategy": { "type": "none" } }
//   { "restartStrategy": { "type": "fixed-delay", "attempts": 3, "delayMs": 1000 } }
//   { "restartStrategy": { "type": "exponential-delay", "initialBackoffMs": 1000, "maxBackoffMs": 60000,
//                          "multiplier": 1.5, "resetBackoffThresholdMs": 3600000, "jitter": 0.1,
//                          "attempts": 10 } }
//
// Omitted keys take Flink's defaults: fixed-delay attempts 1 and delay 1000 ms; exponential-delay as in
// DEFAULT_JOB_CONFIG, with unlimited attempts unless `attempts` is given. An empty config_json means
// DEFAULT_JOB_CONFIG (exponential-delay), Flink's default when checkpointing is enabled.
//
//   { "checkpointing": { "intervalMs": 1000, "timeoutMs": 60000, "maxConcurrent": 1, "minPauseMs": 0,
//                        "retain": 1, "tolerableFailures": 3 } }   (src/checkpoint/config.ts; off by default)
import {
  type CheckpointConfig,
  DEFAULT_CHECKPOINT_CONFIG,
  readCheckpointConfig,
} from "../checkpoint/config.ts";
import { ConfigReader } from "./config-reader.ts";
import { parseJsonText } from "./json-text.ts";

export type RestartStrategyConfig =
  | { readonly type: "none" }
  | { readonly type: "fixed-delay"; readonly attempts: number; readonly delayMs: number }
  | {
      readonly type: "exponential-delay";
      readonly initialBackoffMs: number;
      readonly maxBackoffMs: number;
      readonly multiplier: number;
      readonly resetBackoffThresholdMs: number;
      readonly jitter: number;
      /** Number.POSITIVE_INFINITY = unlimited. */
      readonly attempts: number;
    };

export interface JobConfig {
  readonly restartStrategy: RestartStrategyConfig;
  /** Checkpointing (src/checkpoint/config.ts); disabled unless `checkpointing.intervalMs` > 0. */
  readonly checkpointing: CheckpointConfig;
}

export const DEFAULT_JOB_CONFIG: JobConfig = {
  checkpointing: DEFAULT_CHECKPOINT_CONFIG,
  restartStrategy: {
    type: "exponential-delay",
    initialBackoffMs: 1_000,
    maxBackoffMs: 60_000,
    multiplier: 1.5,
    resetBackoffThresholdMs: 3_600_000,
    jitter: 0.1,
    attempts: Number.POSITIVE_INFINITY,
  },
};

/** Longest delay a timer can wait (setTimeout fires at once beyond 2^31 - 1 ms, about 24.8 days). */
export const MAX_DELAY_MS = 2_147_483_647;

const STRATEGY_TYPES = ["none", "fixed-delay", "exponential-delay"] as const;

/**
 * Parses a job config. "" (or whitespace) → DEFAULT_JOB_CONFIG. Errors are InvalidArgumentErrors that start
 * with `where` and name the key, e.g. "job config: restartStrategy.delayMs: must be a non-negative integer";
 * unknown keys are refused.
 */
export function parseJobConfig(json: string, where: string): JobConfig {
  if (json.trim() === "") return DEFAULT_JOB_CONFIG;
  return readJobConfig(ConfigReader.of(parseJsonText(json, where), where, ""));
}

/** Reads a job config object already parsed from JSON (e.g. the "config" object of a job graph file). */
export function readJobConfig(config: ConfigReader): JobConfig {
  const strategy = config.optionalObject("restartStrategy");
  const checkpointing = config.optionalObject("checkpointing");
  config.finish();
  return {
    restartStrategy:
      strategy === undefined ? DEFAULT_JOB_CONFIG.restartStrategy : readRestartStrategy(strategy),
    checkpointing:
      checkpointing === undefined ? DEFAULT_CHECKPOINT_CONFIG : readCheckpointConfig(checkpointing),
  };
}

function readRestartStrategy(r: ConfigReader): RestartStrategyConfig {
  const type = r.choice("type", STRATEGY_TYPES);
  let strategy: RestartStrategyConfig;
  switch (type) {
    case "none":
      strategy = { type };
      break;
    case "fixed-delay":
      strategy = {
        type,
        attempts: r.optionalInteger("attempts", { min: 0 }) ?? 1,
        delayMs: r.optionalInteger("delayMs", { min: 0, max: MAX_DELAY_MS }) ?? 1_000,
      };
      break;
    case "exponential-delay": {
      const d = DEFAULT_JOB_CONFIG.restartStrategy as Extract<
        RestartStrategyConfig,
        { type: "exponential-delay" }
      >;
      const initialBackoffMs =
        r.optionalInteger("initialBackoffMs", { min: 1, max: MAX_DELAY_MS }) ?? d.initialBackoffMs;
      const maxBackoffMs = r.optionalInteger("maxBackoffMs", { min: 1, max: MAX_DELAY_MS }) ?? d.maxBackoffMs;
      if (maxBackoffMs < initialBackoffMs) {
        r.fail("maxBackoffMs", `${maxBackoffMs} is below initialBackoffMs (${initialBackoffMs}); raise it`);
      }
      strategy = {
        type,
        initialBackoffMs,
        maxBackoffMs,
        multiplier: r.optionalNumber("multiplier", { min: 1 }) ?? d.multiplier,
        resetBackoffThresholdMs:
          r.optionalInteger("resetBackoffThresholdMs", { min: 1 }) ?? d.resetBackoffThresholdMs,
        jitter: r.optionalNumber("jitter", { min: 0, max: 1 }) ?? d.jitter,
        attempts: r.optionalInteger("attempts", { min: 0 }) ?? Number.POSITIVE_INFINITY,
      };
      break;
    }
  }
  r.finish();
  return strategy;
}
