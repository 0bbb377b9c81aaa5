import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keySelectorUid } from "../runtime/streaming/operators.ts";
import { compileApplicationFile } from "./application-file.ts";
import { loadApplicationFunctions } from "./application-functions.ts";
import { applicationJsonOf, parseApplicationJson } from "./application-spec.ts";
import { ApplicationError } from "./errors.ts";

const KEYED_COUNT = new URL("../../examples/keyed-count.ts", import.meta.url).pathname;
const ARGS = ["--count", "100", "--keys", "7", "--output", "out"];

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "vigil-api-functions-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function submitted(args: readonly string[] = ARGS) {
  const application = { file: KEYED_COUNT, args, defaultParallelism: 2, workingDirectory: "/data" };
  const { graph } = await compileApplicationFile(KEYED_COUNT, args, application);
  graph.applicationJson = applicationJsonOf(application);
  return graph;
}

describe("application_json", () => {
  it("keeps the file's base name and round-trips", () => {
    const text = applicationJsonOf({
      file: "/home/me/app.ts",
      args: ["--n", "3"],
      defaultParallelism: 4,
      workingDirectory: "/home/me",
    });
    expect(parseApplicationJson(text, "x")).toEqual({
      file: "app.ts",
      args: ["--n", "3"],
      defaultParallelism: 4,
      workingDirectory: "/home/me",
    });
  });

  it("names what is wrong", () => {
    expect(() => parseApplicationJson('{"file":"a/b.ts"}', "job j")).toThrow(
      'job j: file: "a/b.ts" must be a file name without a directory',
    );
    const bad = '{"file":"a.ts","args":[1],"defaultParallelism":1,"workingDirectory":"/"}';
    expect(() => parseApplicationJson(bad, "job j")).toThrow("args[0]");
  });
});

describe("loadApplicationFunctions", () => {
  it("writes the artifact under its sha256, resolves the submitted graph's functions, and caches them", async () => {
    const graph = await submitted();
    const bytes = await readFile(KEYED_COUNT);
    const cacheDir = join(dir, "cache");
    const lookup = await loadApplicationFunctions({ graph, artifact: bytes, cacheDir });

    const selector = lookup(keySelectorUid("counter"));
    expect(selector).toBeTypeOf("function");
    expect((selector as (n: number) => unknown)(23)).toBe(2);
    expect(lookup("counter")).toBeTypeOf("function");
    expect(lookup("numbers")).toBeUndefined();

    const sha = createHash("sha256").update(bytes).digest("hex");
    expect((await readdir(cacheDir)).sort()).toEqual([`${sha}.ts`, "package.json"]);
    // A second task of the job gets the same functions (one module, one resolution); a path works as bytes do.
    const again = await loadApplicationFunctions({ graph, artifact: { path: KEYED_COUNT }, cacheDir });
    expect(again).toBe(lookup);
  });

  it("refuses an artifact that builds another graph with the job's arguments, and forgets the failure", async () => {
    const graph = await submitted(["--count", "100", "--keys", "7", "--output", "elsewhere"]);
    graph.applicationJson = applicationJsonOf({
      file: "keyed-count.ts",
      args: ARGS,
      defaultParallelism: 2,
      workingDirectory: "/data",
    });
    const request = { graph, artifact: await readFile(KEYED_COUNT), cacheDir: join(dir, "cache") };
    const failure = loadApplicationFunctions(request);
    await expect(failure).rejects.toBeInstanceOf(ApplicationError);
    await expect(failure).rejects.toThrow(
      'the application built a different pipeline on the TaskManager: vertex output: the config is {"path":"/data/out"} here',
    );
    // Not cached: the next deployment tries again (and fails again, loudly).
    await expect(loadApplicationFunctions(request)).rejects.toThrow("different pipeline");
  });

  it("says which job lacks application_json, and which artifact could not be loaded", async () => {
    const graph = await submitted();
    const { applicationJson: _, ...bare } = graph;
    await expect(
      loadApplicationFunctions({ graph: bare, artifact: new Uint8Array(), cacheDir: dir }),
    ).rejects.toThrow(`job ${graph.jobId}: the JobGraph has user functions but no application_json`);

    const broken = join(dir, "broken.ts");
    await writeFile(broken, "export const main = undefined;\n");
    await expect(
      loadApplicationFunctions({ graph, artifact: { path: broken }, cacheDir: join(dir, "cache") }),
    ).rejects.toThrow('application keyed-count.ts exports no function "main"');
  });

  it("stops waiting when the caller's signal aborts", async () => {
    const graph = await submitted(["--count", "5", "--keys", "2", "--output", "out"]);
    const controller = new AbortController();
    controller.abort(new Error("task cancelled"));
    await expect(
      loadApplicationFunctions({
        graph,
        artifact: await readFile(KEYED_COUNT),
        cacheDir: join(dir, "cache"),
        signal: controller.signal,
      }),
    ).rejects.toThrow("task cancelled");
  });
});
