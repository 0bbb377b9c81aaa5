import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../common/errors.ts";
import { helpText } from "./args.ts";
import { exitOnFatalError, taskmanagerCommand } from "./taskmanager.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "vigil-tm-cli-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function usageError(values: Record<string, string | boolean | undefined>): Promise<string> {
  const e = await taskmanagerCommand.run(values, []).catch((error: unknown) => error);
  expect(e).toBeInstanceOf(ConfigError);
  return (e as Error).message;
}

describe("vigil taskmanager", () => {
  it("refuses bad values from the file and from flags before starting anything", async () => {
    const config = join(dir, "tm.yaml");
    await writeFile(
      config,
      'ha: zookeeper\nha-endpoints: "zk:2181"\ncluster-id: t\nstorage-dir: file:///tmp/v\nslots: two\n',
    );
    expect(await usageError({ config })).toBe(`${config}: slots: "two" is not an integer ≥ 1`);
    expect(await usageError({ config, slots: "0" })).toBe('--slots: "0" is not an integer ≥ 1');
    await writeFile(config, "ha: zookeeper\nha-endpoints: [zk:2181\n");
    expect(await usageError({ config })).toMatch(new RegExp(`^${config}: not valid YAML: .* at line \\d+`));
    await writeFile(config, "heartbeat-interval: 1\n");
    expect(await usageError({ config })).toMatch(/: heartbeat-interval: a JobManager setting/);
  });

  it("offers --slots but no JobManager keys", () => {
    const help = helpText(taskmanagerCommand);
    expect(help).toContain("--slots N");
    expect(help).not.toContain("--heartbeat-interval");
    expect(help).toContain("VIGIL_HA_ENDPOINTS");
  });

  it("on a fatal error writes one line to stderr and exits 70", () => {
    const written: string[] = [];
    const codes: number[] = [];
    exitOnFatalError(new Error("task t1 did not stop\nwithin 2000 ms"), {
      write: (line) => written.push(line),
      exit: (code) => codes.push(code),
    });
    expect(written).toEqual(["vigil taskmanager: fatal: task t1 did not stop within 2000 ms\n"]);
    expect(codes).toEqual([70]);
  });
});
