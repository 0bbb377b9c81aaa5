import { describe, expect, it } from "vitest";
import { restartBackoff } from "./restart-strategy.ts";

const exponential = {
  type: "exponential-delay" as const,
  initialBackoffMs: 100,
  maxBackoffMs: 1_000,
  multiplier: 2,
  resetBackoffThresholdMs: 5_000,
  jitter: 0,
  attempts: Number.POSITIVE_INFINITY,
};

describe("restart strategies (Flink semantics)", () => {
  it("none never restarts", () => {
    expect(restartBackoff({ type: "none" }).onFailure(0)).toBeUndefined();
  });

  it("fixed-delay restarts `attempts` times with the same delay, then gives up", () => {
    const b = restartBackoff({ type: "fixed-delay", attempts: 2, delayMs: 250 });
    expect([b.onFailure(0), b.onFailure(1_000), b.onFailure(100_000)]).toEqual([250, 250, undefined]);
    expect(restartBackoff({ type: "fixed-delay", attempts: 0, delayMs: 1 }).onFailure(0)).toBeUndefined();
  });

  it("exponential-delay grows by the multiplier up to the maximum", () => {
    const b = restartBackoff(exponential);
    const delays: Array<number | undefined> = [];
    let now = 0;
    for (let i = 0; i < 6; i++) {
      const d = b.onFailure(now);
      delays.push(d);
      now += (d ?? 0) + 10; // fails again shortly after each restart
    }
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it("exponential-delay starts over after the job ran stably past the reset threshold", () => {
    const b = restartBackoff(exponential);
    expect(b.onFailure(0)).toBe(100);
    expect(b.onFailure(150)).toBe(200);
    // Restarted at 350; runs for 5 s before failing again.
    expect(b.onFailure(350 + 5_000)).toBe(100);
  });

  it("exponential-delay gives up after `attempts` restarts without a reset, and counts afresh after one", () => {
    const b = restartBackoff({ ...exponential, attempts: 2 });
    expect(b.onFailure(0)).toBe(100);
    expect(b.onFailure(110)).toBe(200);
    expect(b.onFailure(320)).toBeUndefined();
    const c = restartBackoff({ ...exponential, attempts: 1 });
    expect(c.onFailure(0)).toBe(100);
    expect(c.onFailure(100 + 5_000)).toBe(100);
  });

  it("jitter spreads each delay by at most ±jitter of it, without compounding", () => {
    const low = restartBackoff({ ...exponential, jitter: 0.1 }, () => 0);
    const high = restartBackoff({ ...exponential, jitter: 0.1 }, () => 0.999_999);
    expect(low.onFailure(0)).toBe(90);
    expect(high.onFailure(0)).toBe(110);
    // The second backoff is 200 ± 10 %, from the unjittered 100.
    expect(low.onFailure(100)).toBe(180);
    expect(high.onFailure(120)).toBe(220);
  });
});
