import { describe, expect, it } from "vitest";
import { currentLeader, epochOf } from "./leader.ts";

const jm = (name: string, alive: boolean, ...events: Array<[string, string]>) => ({
  name,
  alive,
  events: events.map(([event, epoch]) => ({ at: 0, event, epoch })),
});

describe("currentLeader", () => {
  it("is undefined before anyone published", () => {
    expect(currentLeader([jm("jm-1", true, ["granted", "5"]), jm("jm-2", true)])).toBeUndefined();
  });

  it("picks the live JobManager with the highest published epoch", () => {
    const a = jm("jm-1", true, ["published", "5"]);
    const b = jm("jm-2", true, ["published", "9"]);
    const leader = currentLeader([a, b]);
    expect(leader?.jobmanager.name).toBe("jm-2");
    expect(leader?.epoch).toBe(9n);
  });

  it("does not fall back to a deposed JobManager when the newest leader died or revoked", () => {
    const old = jm("jm-1", true, ["published", "5"]);
    expect(currentLeader([old, jm("jm-2", false, ["published", "9"])])).toBeUndefined();
    expect(currentLeader([old, jm("jm-2", true, ["published", "9"], ["revoked", "9"])])).toBeUndefined();
  });

  it("counts a revoke only for the epoch it names", () => {
    const again = jm("jm-1", true, ["published", "5"], ["revoked", "5"], ["published", "12"]);
    expect(currentLeader([again, jm("jm-2", true, ["published", "9"])])?.epoch).toBe(12n);
  });

  it("reads epochs as decimal strings or numbers and ignores events without one", () => {
    expect(epochOf({ event: "published", epoch: "18446744073709551615" })).toBe(18446744073709551615n);
    expect(epochOf({ event: "published", epoch: 7 })).toBe(7n);
    expect(epochOf({ event: "published" })).toBeUndefined();
    expect(epochOf({ event: "published", epoch: "x1" })).toBeUndefined();
  });
});
