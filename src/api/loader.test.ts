import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileApplicationFile } from "./application-file.ts";
import { compileApplication } from "./compile.ts";
import { ApplicationError } from "./errors.ts";
import { importApplication } from "./loader.ts";

const EXAMPLES = new URL("../../examples/", import.meta.url).pathname;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "vigil-api-loader-"));
  await writeFile(join(dir, "package.json"), JSON.stringify({ type: "module" }));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function app(name: string, source: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, source);
  return file;
}

describe("importApplication", () => {
  it("imports a TypeScript application that imports vigil, and compiles it", async () => {
    const file = await app(
      "typed.ts",
      `import { fileSink, ParameterTool, type StreamExecutionEnvironment } from "vigil";
       export async function main(env: StreamExecutionEnvironment, args: string[]): Promise<void> {
         const n: number = ParameterTool.fromArgs(args).integer("n", { min: 1 });
         env.fromSequence(n).map((x: number): string => String(x)).uid("text").sinkTo(fileSink("out"));
         await env.execute("typed");
       }`,
    );
    const module = await importApplication(file);
    const { graph, functions } = await compileApplication(module, ["--n", "7"], {
      defaultParallelism: 2,
      workingDirectory: "/data",
    });
    expect(graph.name).toBe("typed");
    expect(graph.vertices.map((v) => [v.id, v.operatorKind, v.configJson])).toEqual([
      ["sequence-1", "source.sequence", '{"count":7}'],
      ["text", "user.map", ""],
      ["file-sink-3", "sink.exactly-once-file", '{"path":"/data/out"}'],
    ]);
    const map = functions.get("text");
    expect(map?.kind).toBe("map");
    if (map?.kind === "map") expect(map.fn(5)).toBe("5");
  });

  it("gives every import a fresh module instance", async () => {
    const file = await app(
      "stateful.ts",
      `let runs = 0;
       export function main(env: import("vigil").StreamExecutionEnvironment): Promise<void> {
         runs++;
         env.fromSequence(runs).print();
         return env.execute();
       }`,
    );
    const first = await compileApplication(await importApplication(file), [], { defaultParallelism: 1 });
    const second = await compileApplication(await importApplication(file), [], { defaultParallelism: 1 });
    expect(second.graph).toEqual(first.graph);
  });

  it("refuses a module without main, a CommonJS scope, and a module that fails to load", async () => {
    const noMain = await app("no-main.ts", "export const x = 1;\n");
    await expect(importApplication(noMain)).rejects.toThrow(
      `application ${noMain} exports no function "main"; export one`,
    );

    const cjsDir = join(dir, "cjs");
    await mkdir(cjsDir);
    await writeFile(join(cjsDir, "package.json"), "{}");
    const cjs = join(cjsDir, "app.ts");
    await writeFile(cjs, "export function main() {}\n");
    await expect(importApplication(cjs)).rejects.toThrow(
      `application ${cjs} is not an ES module: ${join(cjsDir, "package.json")} has no "type": "module"; rename it to .mts`,
    );

    const broken = await app(
      "broken.ts",
      `import { nothing } from "./missing.ts";\nexport const main = nothing;\n`,
    );
    const failure = importApplication(broken);
    await expect(failure).rejects.toBeInstanceOf(ApplicationError);
    await expect(failure).rejects.toThrow(`application ${broken} could not be loaded:`);
  });
});

describe("compileApplicationFile", () => {
  it("refuses at submission an application whose main builds another pipeline on a second run", async () => {
    // State kept outside the module (here a global) survives a fresh instance: the second run differs.
    const counter = `vigilTestRuns${randomUUID().replaceAll("-", "")}`;
    const file = await app(
      "drifting.ts",
      `import type { StreamExecutionEnvironment } from "vigil";
       const g = globalThis as { ${counter}?: number };
       export async function main(env: StreamExecutionEnvironment): Promise<void> {
         g.${counter} = (g.${counter} ?? 0) + 1;
         env.fromSequence(10).uid("numbers").setParallelism(g.${counter}).print().uid("out");
         await env.execute("drifting");
       }`,
    );
    await expect(compileApplicationFile(file, [], { defaultParallelism: 1 })).rejects.toThrow(
      "the application built a different pipeline when run again in a fresh module instance: vertex numbers: the parallelism is 2 here but 1 submitted",
    );
  });

  it("compiles the keyed-count example and resolves its functions from a fresh instance", async () => {
    const { graph, functions } = await compileApplicationFile(
      join(EXAMPLES, "keyed-count.ts"),
      ["--count", "100", "--keys", "7", "--output", "/tmp/out"],
      { defaultParallelism: 2 },
    );
    expect(graph.vertices.map((v) => v.id)).toEqual(["numbers", "counter", "output"]);
    expect([...functions.keys()].sort()).toEqual(["counter", "counter:key"]);
  });
});
