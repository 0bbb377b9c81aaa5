import { describe, expect, it } from "vitest";
import { StaleEpochError } from "../common/errors.ts";
import { EpochFence } from "./epoch-fence.ts";

describe("EpochFence", () => {
  it("only ever raises its highest epoch and refuses anything lower, naming both epochs", () => {
    const fence = new EpochFence();
    expect(fence.highest).toBe(0n);
    expect(fence.observe(9n)).toBe(true);
    expect(fence.observe(4n)).toBe(false);
    expect(fence.observe(9n)).toBe(false);
    expect(fence.highest).toBe(9n);
    expect(() => fence.check(9n, "deploy a")).not.toThrow();
    expect(() => fence.check(12n, "deploy b")).not.toThrow();
    expect(fence.highest).toBe(9n);
    let refused: unknown;
    try {
      fence.check(4n, "deploy c");
    } catch (e: unknown) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(StaleEpochError);
    expect(refused).toMatchObject({ epoch: 4n, highest: 9n, code: "STALE_EPOCH" });
    expect((refused as Error).message).toBe(
      "deploy c: refused: leader epoch 4 is older than epoch 9, the highest seen here (the sender was deposed)",
    );
  });
});
