import { describe, expect, it } from "vitest";
import { monotonicNow, sleepUntil } from "./clock.ts";

describe("sleepUntil", () => {
  it("never returns before its deadline on the monotonic clock", async () => {
    for (let i = 0; i < 20; i++) {
      const deadline = monotonicNow() + 3 + Math.random() * 5;
      await sleepUntil(deadline);
      expect(monotonicNow()).toBeGreaterThanOrEqual(deadline);
    }
  });

  it("rejects with the signal's reason", async () => {
    const controller = new AbortController();
    const waiting = sleepUntil(monotonicNow() + 10_000, controller.signal);
    controller.abort(new Error("stop"));
    await expect(waiting).rejects.toThrow("stop");
  });
});
