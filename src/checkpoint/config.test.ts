import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../common/errors.ts";
import { ConfigReader } from "../runtime/config-reader.ts";
import { DEFAULT_CHECKPOINT_CONFIG, readCheckpointConfig } from "./config.ts";

const read = (value: unknown) => readCheckpointConfig(ConfigReader.of(value, "job config", "checkpointing"));

describe("readCheckpointConfig", () => {
  it("takes Flink's defaults for omitted keys: disabled, 60 s timeout, one at a time, retain 1", () => {
    expect(read({})).toEqual(DEFAULT_CHECKPOINT_CONFIG);
    expect(DEFAULT_CHECKPOINT_CONFIG).toEqual({
      intervalMs: 0,
      timeoutMs: 60_000,
      maxConcurrent: 1,
      minPauseMs: 0,
      retain: 1,
      tolerableFailures: Number.POSITIVE_INFINITY,
    });
  });

  it("reads every key", () => {
    const all = {
      intervalMs: 500,
      timeoutMs: 10_000,
      maxConcurrent: 2,
      minPauseMs: 100,
      retain: 3,
      tolerableFailures: 0,
    };
    expect(read(all)).toEqual(all);
    expect(read({ intervalMs: 1_000 })).toEqual({ ...DEFAULT_CHECKPOINT_CONFIG, intervalMs: 1_000 });
  });

  it("names the key in every error and refuses unknown keys", () => {
    const cases: Array<[unknown, string]> = [
      [{ intervalMs: 5 }, "job config: checkpointing.intervalMs: must be 0 (disabled) or at least 10"],
      [{ intervalMs: -1 }, "job config: checkpointing.intervalMs: must be a non-negative integer"],
      [{ timeoutMs: 0 }, "job config: checkpointing.timeoutMs: must be an integer ≥ 10"],
      [{ maxConcurrent: 0 }, "job config: checkpointing.maxConcurrent: must be an integer ≥ 1"],
      [{ minPauseMs: 1.5 }, "job config: checkpointing.minPauseMs: must be a non-negative integer"],
      [{ retain: 0 }, "job config: checkpointing.retain: must be an integer ≥ 1"],
      [
        { tolerableFailures: "3" },
        "job config: checkpointing.tolerableFailures: must be a non-negative integer",
      ],
      [{ interval: 500 }, "job config: checkpointing.interval: unknown key; use intervalMs,"],
      ["500", "job config: checkpointing: must be a JSON object"],
    ];
    for (const [value, message] of cases) {
      let error: unknown;
      try {
        read(value);
      } catch (e: unknown) {
        error = e;
      }
      expect(error, JSON.stringify(value)).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toContain(message);
    }
  });
});
