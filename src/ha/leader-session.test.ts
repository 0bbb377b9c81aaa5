import { describe, expect, it } from "vitest";
import { monotonicNow } from "../common/clock.ts";
import { LeadershipLostError } from "../common/errors.ts";
import { GuardedLeaderSession } from "./leader-session.ts";
import { waitUntil } from "./testing.ts";

describe("GuardedLeaderSession (the zombie guard)", () => {
  it("refuses synchronously once the deadline has passed, and tells the driver once", () => {
    const expired: GuardedLeaderSession[] = [];
    const s = new GuardedLeaderSession(7n, "k", monotonicNow() - 1, (x) => expired.push(x));
    expect(s.isValid()).toBe(false);
    expect(() => s.assertLeader()).toThrow(LeadershipLostError);
    expect(() => s.assertLeader()).toThrow(/epoch 7 .*zombie guard/);
    expect(s.signal.aborted).toBe(true);
    expect(expired).toEqual([s]);
  });

  it("revokes itself at the deadline even when no action checks it, unless keepalives moved it", async () => {
    const expired: number[] = [];
    const s = new GuardedLeaderSession(1n, "k", monotonicNow() + 60, () => expired.push(monotonicNow()));
    s.extendDeadline(monotonicNow() + 120);
    s.extendDeadline(monotonicNow() + 10); // never moves backwards
    const start = monotonicNow();
    await waitUntil(() => s.signal.aborted, 1_000, "the deadline timer");
    expect(monotonicNow() - start).toBeGreaterThanOrEqual(100);
    expect(expired).toHaveLength(1);
  });

  it("keeps the first revoke reason and ignores later deadline changes", () => {
    const s = new GuardedLeaderSession(3n, "k", monotonicNow() + 10_000, () => {});
    s.revoke("closed: resigned");
    s.revoke("something else");
    s.extendDeadline(monotonicNow() + 20_000);
    expect(s.isValid()).toBe(false);
    expect(() => s.assertLeader()).toThrow(/closed: resigned/);
  });

  it("does not spin on an unbounded deadline", async () => {
    let checks = 0;
    const s = new GuardedLeaderSession(1n, "k", Number.POSITIVE_INFINITY, () => {});
    const isValid = s.isValid.bind(s);
    s.isValid = () => {
      checks += 1;
      return isValid();
    };
    await new Promise((r) => setTimeout(r, 50));
    expect(checks).toBe(0);
    s.revoke("done");
  });
});
