import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, InvalidArgumentError } from "../common/errors.ts";
import { parseFlags } from "./args.ts";
import { readJobGraphFile, submitCommand } from "./submit.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "vigil-submit-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const GRAPH = {
  name: "numbers",
  vertices: [
    { id: "numbers", operator: "source.sequence", config: { count: 10 } },
    { id: "out", operator: "sink.discard" },
  ],
  edges: [{ source: "numbers", target: "out", partitioning: "forward" }],
};

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

// An address nothing listens on: a test that got as far as connecting would fail differently (UNAVAILABLE).
const target = { jobmanager: "127.0.0.1:1", timeout: "0.2" };

describe("readJobGraphFile", () => {
  it("reads a graph and derives a stable job id when the file has none", async () => {
    const a = await readJobGraphFile(await file("a.json", JSON.stringify(GRAPH)));
    const b = await readJobGraphFile(await file("b.json", JSON.stringify(GRAPH, null, 2)));
    expect(a.name).toBe("numbers");
    expect(a.jobId).toMatch(/^[0-9a-f]{32}$/);
    expect(b.jobId).toBe(a.jobId);
  });
});

describe("vigil submit", () => {
  it("reports a missing file, malformed JSON and an invalid graph with the file's name, sending nothing", async () => {
    const missing = join(dir, "missing.json");
    await expect(submitCommand.run(target, [missing])).rejects.toThrow(
      new InvalidArgumentError(`${missing}: cannot read the job graph: no such file`),
    );
    await expect(submitCommand.run(target, [dir])).rejects.toThrow(
      /cannot read the job graph: it is a directory/,
    );
    const malformed = await file("bad.json", '{\n  "name": "x",\n  "vertices": [\n');
    const error = await submitCommand.run(target, [malformed]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(
      new RegExp(`^${malformed}: malformed JSON at line \\d+, column \\d+`),
    );
    const invalid = await file("invalid.json", JSON.stringify({ ...GRAPH, vertices: [] }));
    await expect(submitCommand.run(target, [invalid])).rejects.toThrow(
      new RegExp(`^${invalid}: vertices: must list at least one vertex`),
    );
    const unknown = await file("unknown.json", JSON.stringify({ ...GRAPH, paralelism: 2 }));
    await expect(submitCommand.run(target, [unknown])).rejects.toThrow(
      new RegExp(`^${unknown}: .*paralelism`),
    );
  });

  it("treats a missing FILE and bad flags as usage errors", async () => {
    await expect(submitCommand.run(target, [])).rejects.toThrow(
      new ConfigError("FILE is required; see vigil submit --help"),
    );
    await expect(submitCommand.run(target, ["a.json", "b.json"])).rejects.toThrow(
      /unexpected argument "b.json"/,
    );
    await expect(submitCommand.run({}, ["a.json"])).rejects.toThrow(/^say where the cluster is/);
    expect(() => parseFlags(submitCommand, ["a.json", "--slots", "2"])).toThrow(
      "unknown option --slots; see vigil submit --help",
    );
  });
});
