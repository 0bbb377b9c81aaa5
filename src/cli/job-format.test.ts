import { describe, expect, it } from "vitest";
import type { ClusterOverview, JobSummary } from "../generated/records.ts";
import { jobJson, jobsTable, overviewJson, overviewText } from "./job-format.ts";
import { jsonLine } from "./output.ts";

const job = (id: string, over: Partial<JobSummary> = {}): JobSummary => ({
  jobId: id,
  name: `${id}-name`,
  state: "JOB_STATE_RUNNING",
  submittedAtMs: 1_700_000_000_000n,
  restarts: 0,
  tasks: 4,
  runningTasks: 4,
  error: "",
  ...over,
});

const overview: ClusterOverview = {
  leader: { name: "jm-1", address: "127.0.0.1:6123", epoch: 12345678901234567890n },
  taskmanagers: [
    { id: "tm-1", address: "127.0.0.1:7001", slots: 2, freeSlots: 0 },
    { id: "tm-2", address: "127.0.0.1:7002", slots: 2, freeSlots: 1 },
  ],
  jobs: [
    job("wc"),
    job("etl", { state: "JOB_STATE_RESTARTING", runningTasks: 1, restarts: 3, error: "boom" }),
  ],
};

describe("job output", () => {
  it("prints jobs as JSON without the enum prefix and with bigints as decimal strings", () => {
    expect(JSON.parse(jsonLine(jobJson(overview.jobs[1]!)))).toEqual({
      id: "etl",
      name: "etl-name",
      state: "RESTARTING",
      tasks: 4,
      runningTasks: 1,
      restarts: 3,
      submittedAtMs: "1700000000000",
      error: "boom",
    });
    expect(jobJson(job("wc"))).not.toHaveProperty("error");
  });

  it("prints the overview as one JSON object, and a missing leader as null", () => {
    const parsed = JSON.parse(jsonLine(overviewJson(overview))) as Record<string, unknown>;
    expect(parsed.leader).toEqual({ name: "jm-1", address: "127.0.0.1:6123", epoch: "12345678901234567890" });
    expect(parsed.taskmanagers).toEqual([
      { id: "tm-1", address: "127.0.0.1:7001", slots: 2, freeSlots: 0 },
      { id: "tm-2", address: "127.0.0.1:7002", slots: 2, freeSlots: 1 },
    ]);
    expect((parsed.jobs as unknown[]).length).toBe(2);
    const none = overviewJson({ leader: { name: "", address: "", epoch: 0n }, taskmanagers: [], jobs: [] });
    expect(none).toEqual({ leader: null, taskmanagers: [], jobs: [] });
  });

  it("renders aligned tables for people", () => {
    expect(jobsTable(overview.jobs)).toBe(
      [
        "JOB ID  NAME      STATE       TASKS  RESTARTS",
        "wc      wc-name   RUNNING     4/4    0",
        "etl     etl-name  RESTARTING  1/4    3",
        "",
      ].join("\n"),
    );
    expect(jobsTable([])).toBe("no jobs\n");
    const text = overviewText(overview);
    expect(text).toContain("leader: jm-1 at 127.0.0.1:6123 (epoch 12345678901234567890)\n");
    expect(text).toContain("taskmanagers: 2, 1 of 4 slots free\n");
    expect(text).toContain("  tm-2  127.0.0.1:7002  2      1\n");
    expect(text).toContain("jobs: 2\n  JOB ID");
    expect(overviewText({ taskmanagers: [], jobs: [] })).toBe(
      "leader: none known\ntaskmanagers: 0, 0 of 0 slots free\njobs: 0\n",
    );
  });
});
