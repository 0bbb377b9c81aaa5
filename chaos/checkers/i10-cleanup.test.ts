import { describe, expect, it } from "vitest";
import { containsId, i10Cleanup, namesJobKey } from "./i10-cleanup.ts";
import { events, input, jm } from "./testing.ts";

const j1 = jm("jm-1");
// "a" terminal at 1000; cleanupMs 2000 → due when the final read is after 3000.
const done = events(j1.state(1000, "a", "CANCELED", 1), j1.cleaned(1200, "a", 1));
const kept = ["job-results/a", "jobgraphs/a10", "elections/jobmanager/leader"];

describe("I10 terminal jobs cleaned up", () => {
  it("holds when only the job's result record is left", () => {
    const v = i10Cleanup.check(
      input({ events: done, final: { storeKeys: kept, blobs: ["artifact-a10-1f"] } }),
    );
    expect(v.valid).toBe(true);
    expect(v.evidence).toEqual([
      "1 terminal jobs due for cleanup checked; 0 ended too recently",
      "1 job-cleaned events",
    ]);
  });

  it("fails when the job's records or blobs are still there after the bound", () => {
    const final = {
      storeKeys: [...kept, "jobs/a", "jobs/a/checkpoints/00000000000000000003"],
      blobs: ["checkpoint-a-3-x"],
    };
    const v = i10Cleanup.check(input({ events: done, final }));
    expect(v.valid).toBe(false);
    expect(v.problems[0]).toBe(
      "job a terminal since 1000 (job-state CANCELED), 99000 ms before the final read (bound 2000 ms), still has key jobs/a, key jobs/a/checkpoints/00000000000000000003, blob checkpoint-a-3-x",
    );
  });

  it("does not require cleanup before the bound", () => {
    const v = i10Cleanup.check(input({ events: done, final: { at: 2500, storeKeys: ["jobgraphs/a"] } }));
    expect(v.valid).toBe(true);
  });

  it("is unknown when the store or the blobs could not be read", () => {
    expect(i10Cleanup.check(input({ events: done, final: { storeKeys: undefined } })).valid).toBe("unknown");
    expect(i10Cleanup.check(input({ events: done, final: { blobs: undefined } })).valid).toBe("unknown");
  });

  it("matches job ids by whole key segment and not inside longer names", () => {
    expect(namesJobKey("jobgraphs/r-1", "r-1")).toBe(true);
    expect(namesJobKey("jobgraphs/r-10", "r-1")).toBe(false);
    expect(namesJobKey("job-results/r-1", "r-1")).toBe(false);
    expect(containsId("artifact-r-1-abc", "r-1")).toBe(true);
    expect(containsId("artifact-r-10-abc", "r-1")).toBe(false);
    expect(containsId("xr-1", "r-1")).toBe(false);
  });
});
