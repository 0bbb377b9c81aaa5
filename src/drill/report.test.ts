import { describe, expect, it } from "vitest";
import { jsonLine } from "../cli/output.ts";
import { type DrillResult, drillJson, drillTable, failureText, summarize, summaryText } from "./report.ts";

function drill(n: number, over: Partial<DrillResult> = {}): DrillResult {
  return {
    drill: n,
    mode: "kill",
    recovered: true,
    oldLeader: { name: `jm-${n}`, epoch: BigInt(n), address: `127.0.0.1:700${n}`, pid: 1000 + n },
    newLeader: { name: `jm-${n + 1}`, epoch: BigInt(n + 1), address: `127.0.0.1:700${n + 1}` },
    timeToNewLeaderMs: 2000 + n * 100,
    timeToJobsRunningMs: 2500 + n * 100,
    jobs: ["job-a"],
    restarted: [
      {
        name: `jm-${n}`,
        stoppedPid: 1000 + n,
        pid: 2000 + n,
        log: `/tmp/d/jm-${n}.drill-${n}.log`,
        address: "127.0.0.1:7100",
        error: undefined,
      },
    ],
    problems: [],
    lastSeen: [],
    ...over,
  };
}

const failed = drill(3, {
  recovered: false,
  newLeader: undefined,
  timeToNewLeaderMs: undefined,
  timeToJobsRunningMs: undefined,
  problems: ["no leader with an epoch above 3 was published within --recovery-timeout 30 s"],
  lastSeen: ["+2001 ms: published no leader", "job listing failed: no JobManager leader"],
});

describe("summarize", () => {
  it("is ok only when every planned drill ran and passed", () => {
    const s = summarize([drill(1), drill(2)], "kill", 2);
    expect(s).toEqual({
      kind: "summary",
      mode: "kill",
      planned: 2,
      run: 2,
      recovered: 2,
      failed: 0,
      timeToNewLeaderMs: { p50: 2100, max: 2200 },
      timeToJobsRunningMs: { p50: 2600, max: 2700 },
      ok: true,
    });
    expect(summarize([drill(1)], "kill", 2).ok).toBe(false);
  });

  it("counts a failed drill and leaves it out of the times", () => {
    const s = summarize([drill(1), failed], "kill", 3);
    expect(s).toMatchObject({ run: 2, recovered: 1, failed: 1, ok: false });
    expect(s.timeToNewLeaderMs).toEqual({ p50: 2100, max: 2100 });
    expect(summarize([failed], "kill", 1).timeToJobsRunningMs).toBeNull();
  });

  it("fails a drill that recovered but could not restart what it stopped", () => {
    const noRestart = drill(1, {
      problems: ["the restarted jm-1 exited before it served; see its log /tmp/x"],
    });
    expect(summarize([noRestart], "kill", 1)).toMatchObject({ recovered: 1, failed: 1, ok: false });
    expect(drillTable([noRestart])).toContain("recovered, restart failed");
  });
});

describe("output", () => {
  it("prints one JSON object per drill with epochs as decimal strings", () => {
    const parsed = JSON.parse(jsonLine(drillJson(drill(1)))) as Record<string, unknown>;
    expect(parsed).toEqual({
      kind: "drill",
      drill: 1,
      mode: "kill",
      ok: true,
      recovered: true,
      oldLeader: { name: "jm-1", epoch: "1", address: "127.0.0.1:7001", pid: 1001 },
      newLeader: { name: "jm-2", epoch: "2", address: "127.0.0.1:7002" },
      timeToNewLeaderMs: 2100,
      timeToJobsRunningMs: 2600,
      jobs: ["job-a"],
      restarted: [
        {
          name: "jm-1",
          stoppedPid: 1001,
          pid: 2001,
          log: "/tmp/d/jm-1.drill-1.log",
          address: "127.0.0.1:7100",
        },
      ],
    });
    const bad = JSON.parse(jsonLine(drillJson(failed))) as Record<string, unknown>;
    expect(bad).toMatchObject({
      ok: false,
      newLeader: null,
      timeToNewLeaderMs: null,
      problems: failed.problems,
    });
    expect(bad["lastSeen"]).toEqual(failed.lastSeen);
  });

  it("prints a table row per drill and a summary with p50 and max", () => {
    const text = drillTable([drill(1), failed]);
    const [header, first, second] = text.trimEnd().split("\n");
    expect(header).toMatch(
      /^DRILL\s+MODE\s+OLD LEADER\s+NEW LEADER\s+TO NEW LEADER\s+TO JOBS RUNNING\s+RESULT$/,
    );
    expect(first).toMatch(/^1\s+kill\s+jm-1 \(epoch 1\)\s+jm-2 \(epoch 2\)\s+2100 ms\s+2600 ms\s+recovered$/);
    expect(second).toMatch(/^3\s+kill\s+jm-3 \(epoch 3\)\s+none\s+-\s+-\s+FAILED$/);
    expect(summaryText(summarize([drill(1), failed], "kill", 3))).toBe(
      [
        "1 of 3 drills (kill) recovered; 1 not run",
        "time to new leader:   p50 2100 ms, max 2100 ms",
        "time to jobs running: p50 2600 ms, max 2600 ms",
        "",
      ].join("\n"),
    );
  });

  it("explains a failed drill with what was seen last", () => {
    expect(failureText(failed)).toBe(
      [
        "drill 3 (kill) FAILED:",
        "  - no leader with an epoch above 3 was published within --recovery-timeout 30 s",
        "  last seen:",
        "    +2001 ms: published no leader",
        "    job listing failed: no JobManager leader",
        "",
      ].join("\n"),
    );
  });
});
