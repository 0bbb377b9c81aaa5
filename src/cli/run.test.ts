import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseApplicationJson } from "../api/application-spec.ts";
import { UnavailableError } from "../common/errors.ts";
import type { JobDetails, JobState } from "../generated/records.ts";
import { followJob, progressLine } from "./follow-job.ts";
import { buildJob } from "./run.ts";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "vigil-cli-run-"));
  await writeFile(join(dir, "package.json"), JSON.stringify({ type: "module" }));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function app(name: string, body: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(
    file,
    `import { fileSink, type StreamExecutionEnvironment } from "vigil";
     export async function main(env: StreamExecutionEnvironment, args: string[]): Promise<void> {
       ${body}
       await env.execute("app");
     }`,
  );
  return file;
}

describe("buildJob", () => {
  it("compiles the application, sets application_json and returns the file as the artifact", async () => {
    const file = await app(
      "ok.ts",
      `env.fromSequence(Number(args[0])).uid("numbers").map((n: number) => n * 2).uid("double").sinkTo(fileSink("out")).uid("sink");`,
    );
    const { graph, artifact } = await buildJob(file, ["5"], 3, "/work");
    expect(graph.vertices.map((v) => [v.id, v.parallelism])).toEqual([
      ["numbers", 3],
      ["double", 3],
      ["sink", 3],
    ]);
    expect(parseApplicationJson(graph.applicationJson ?? "", "x")).toEqual({
      file: "ok.ts",
      args: ["5"],
      defaultParallelism: 3,
      workingDirectory: "/work",
    });
    expect(new TextDecoder().decode(artifact)).toContain('uid("double")');
  });

  it("names the missing file, the application's own error, and the invalid operator", async () => {
    const missing = join(dir, "missing.ts");
    await expect(buildJob(missing, [], 1, dir)).rejects.toThrow(
      `${missing}: cannot read the application: no such file`,
    );
    await expect(buildJob(dir, [], 1, dir)).rejects.toThrow(`${dir}: is a directory`);

    const throwing = await app("throws.ts", `throw new Error("no --output given");`);
    await expect(buildJob(throwing, [], 1, dir)).rejects.toThrow(
      `${throwing}: application main(env, args) failed: Error: no --output given`,
    );

    const tooWide = await app(
      "wide.ts",
      `env.fromSequence(10).uid("numbers").keyBy((n: number) => n % 2).sum().uid("sums").setParallelism(200).sinkTo(fileSink("out")).uid("sink");`,
    );
    await expect(buildJob(tooWide, [], 1, dir)).rejects.toThrow(
      `${tooWide}: sum #2 (uid "sums"): parallelism 200 exceeds the 128 key groups of a keyed operator`,
    );
  });
});

function details(state: JobState, records: bigint[] = []): JobDetails {
  return {
    summary: {
      jobId: "j",
      name: "j",
      state,
      submittedAtMs: 0n,
      restarts: 1,
      tasks: records.length,
      runningTasks: state === "JOB_STATE_RUNNING" ? records.length : 0,
      error: "",
    },
    tasks: records.map((r, i) => ({
      executionId: `e${i}`,
      vertexId: "v",
      subtask: i,
      attempt: 0,
      state: "EXECUTION_STATE_RUNNING",
      taskmanagerId: "tm",
      records: r,
    })),
  };
}

describe("followJob", () => {
  it("polls through unanswered calls until the job is terminal", async () => {
    const answers: (JobDetails | Error)[] = [
      details("JOB_STATE_RUNNING", [3n, 4n]),
      new UnavailableError("no JobManager leader"),
      details("JOB_STATE_FINISHED", [10n, 10n]),
    ];
    const seen: string[] = [];
    const final = await followJob("j", {
      getJob: async () => {
        const next = answers.shift()!;
        if (next instanceof Error) throw next;
        return next;
      },
      onPoll: (p) => seen.push("details" in p ? progressLine(p.details) : `problem: ${p.problem}`),
      signal: new AbortController().signal,
      intervalMs: 1,
    });
    expect(final.summary?.state).toBe("JOB_STATE_FINISHED");
    expect(seen).toEqual([
      "RUNNING: 2/2 tasks running, 7 records, 1 restarts",
      "problem: no JobManager leader",
      "FINISHED: 0/2 tasks running, 20 records, 1 restarts",
    ]);
  });

  it("gives up when no answer came for the whole patience, and stops on its signal", async () => {
    const unanswered = followJob("j", {
      getJob: () => Promise.reject(new UnavailableError("down")),
      onPoll: () => undefined,
      signal: new AbortController().signal,
      intervalMs: 1,
      patienceMs: 20,
    });
    await expect(unanswered).rejects.toThrow("job j: no answer about it for 0 s (last: down)");

    const stop = new AbortController();
    const stopped = followJob("j", {
      getJob: async () => details("JOB_STATE_RUNNING"),
      onPoll: () => stop.abort(new Error("stopped following")),
      signal: stop.signal,
      intervalMs: 1,
    });
    await expect(stopped).rejects.toThrow("stopped following");
  });
});
