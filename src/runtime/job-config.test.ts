import { describe, expect, it } from "vitest";
import { DEFAULT_CHECKPOINT_CONFIG } from "../checkpoint/config.ts";
import { InvalidArgumentError } from "../common/errors.ts";
import { DEFAULT_JOB_CONFIG, parseJobConfig } from "./job-config.ts";

/** The restart strategy part; checkpointing has its own test below and in src/checkpoint. */
const parse = (
  config: unknown,
): { restartStrategy: ReturnType<typeof parseJobConfig>["restartStrategy"] } => ({
  restartStrategy: parseJobConfig(JSON.stringify(config), "job config").restartStrategy,
});

describe("parseJobConfig", () => {
  it("reads checkpointing, off by default, with errors that name the key", () => {
    expect(parseJobConfig("", "job config").checkpointing).toEqual(DEFAULT_CHECKPOINT_CONFIG);
    expect(DEFAULT_CHECKPOINT_CONFIG.intervalMs).toBe(0);
    const on = parseJobConfig(
      JSON.stringify({ checkpointing: { intervalMs: 500, retain: 2 } }),
      "job config",
    );
    expect(on.checkpointing).toEqual({ ...DEFAULT_CHECKPOINT_CONFIG, intervalMs: 500, retain: 2 });
    expect(on.restartStrategy).toEqual(DEFAULT_JOB_CONFIG.restartStrategy);
    expect(() =>
      parseJobConfig(JSON.stringify({ checkpointing: { intervalMs: 500, bogus: 1 } }), "job config"),
    ).toThrow(/checkpointing\.bogus/);
  });

  it("gives Flink's exponential-delay defaults for an empty config", () => {
    expect(parseJobConfig("", "job config")).toEqual(DEFAULT_JOB_CONFIG);
    expect(parseJobConfig("  \n", "job config")).toEqual(DEFAULT_JOB_CONFIG);
    expect(parseJobConfig("{}", "job config")).toEqual(DEFAULT_JOB_CONFIG);
    expect(DEFAULT_JOB_CONFIG.restartStrategy).toEqual({
      type: "exponential-delay",
      initialBackoffMs: 1000,
      maxBackoffMs: 60000,
      multiplier: 1.5,
      resetBackoffThresholdMs: 3600000,
      jitter: 0.1,
      attempts: Number.POSITIVE_INFINITY,
    });
  });

  it("reads each strategy", () => {
    expect(parse({ restartStrategy: { type: "none" } })).toEqual({ restartStrategy: { type: "none" } });
    expect(parse({ restartStrategy: { type: "fixed-delay", attempts: 3, delayMs: 250 } })).toEqual({
      restartStrategy: { type: "fixed-delay", attempts: 3, delayMs: 250 },
    });
    expect(parse({ restartStrategy: { type: "fixed-delay" } })).toEqual({
      restartStrategy: { type: "fixed-delay", attempts: 1, delayMs: 1000 },
    });
    expect(
      parse({
        restartStrategy: {
          type: "exponential-delay",
          initialBackoffMs: 10,
          maxBackoffMs: 100,
          multiplier: 2,
          resetBackoffThresholdMs: 5000,
          jitter: 0,
          attempts: 4,
        },
      }),
    ).toEqual({
      restartStrategy: {
        type: "exponential-delay",
        initialBackoffMs: 10,
        maxBackoffMs: 100,
        multiplier: 2,
        resetBackoffThresholdMs: 5000,
        jitter: 0,
        attempts: 4,
      },
    });
  });

  it("fills omitted exponential-delay keys from the defaults, unlimited attempts", () => {
    const c = parse({ restartStrategy: { type: "exponential-delay", initialBackoffMs: 5 } });
    expect(c.restartStrategy).toEqual({ ...DEFAULT_JOB_CONFIG.restartStrategy, initialBackoffMs: 5 });
  });

  it.each([
    [
      { restartStrategy: { type: "fixed-delay", delayMs: -1 } },
      "restartStrategy.delayMs: must be a non-negative integer",
    ],
    [
      { restartStrategy: { type: "fixed-delay", delayMs: 1.5 } },
      "restartStrategy.delayMs: must be a non-negative integer",
    ],
    [
      { restartStrategy: { type: "fixed-delay", delayMs: "1s" } },
      "restartStrategy.delayMs: must be a non-negative integer",
    ],
    [
      { restartStrategy: { type: "fixed-delay", delayMs: 2 ** 31 } },
      "restartStrategy.delayMs: must be at most 2147483647",
    ],
    [
      { restartStrategy: { type: "fixed-delay", attempts: -2 } },
      "restartStrategy.attempts: must be a non-negative integer",
    ],
    [
      { restartStrategy: { type: "exponential-delay", multiplier: 0.5 } },
      "restartStrategy.multiplier: must be a number ≥ 1",
    ],
    [
      { restartStrategy: { type: "exponential-delay", jitter: 2 } },
      "restartStrategy.jitter: must be a number from 0 to 1",
    ],
    [
      { restartStrategy: { type: "exponential-delay", initialBackoffMs: 0 } },
      "restartStrategy.initialBackoffMs: must be an integer ≥ 1",
    ],
    [
      { restartStrategy: { type: "exponential-delay", initialBackoffMs: 500, maxBackoffMs: 100 } },
      "restartStrategy.maxBackoffMs: 100 is below initialBackoffMs (500)",
    ],
    [
      { restartStrategy: { type: "fixed" } },
      'restartStrategy.type: "fixed" is not one of none, fixed-delay, exponential-delay',
    ],
    [
      { restartStrategy: {} },
      "restartStrategy.type: is required; use one of none, fixed-delay, exponential-delay",
    ],
    [{ restartStrategy: "none" }, "restartStrategy: must be a JSON object"],
    [[], "job config: must be a JSON object"],
  ])("refuses %j", (config, message) => {
    expect(() => parse(config)).toThrow(InvalidArgumentError);
    expect(() => parse(config)).toThrow(
      message.startsWith("job config") ? message : `job config: ${message}`,
    );
  });

  it("refuses unknown keys, naming them and the known ones", () => {
    expect(() => parse({ restart: {} })).toThrow("job config: restart: unknown key; use restartStrategy");
    expect(() => parse({ restartStrategy: { type: "fixed-delay", delay: 5 } })).toThrow(
      "job config: restartStrategy.delay: unknown key; use type, attempts, delayMs",
    );
    expect(() => parse({ restartStrategy: { type: "none", attempts: 3 } })).toThrow(
      "job config: restartStrategy.attempts: unknown key; use type",
    );
  });

  it("reports malformed JSON with the position", () => {
    expect(() => parseJobConfig('{"restartStrategy": }', "job config")).toThrow(
      "job config: malformed JSON at line 1, column 21",
    );
  });
});
