import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../common/errors.ts";
import { helpText, parseFlags } from "./args.ts";
import { jobmanagerCommand } from "./jobmanager.ts";

let dir: string;
let config: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "vigil-jm-cli-"));
  config = join(dir, "jm.yaml");
  await writeFile(
    config,
    "ha: etcd\nha-endpoints: [127.0.0.1:2379]\ncluster-id: test\nstorage-dir: file:///tmp/vigil-test\n",
  );
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function usageError(values: Record<string, string | boolean | undefined>, positionals: string[] = []) {
  const e = await jobmanagerCommand.run(values, positionals).catch((error: unknown) => error);
  expect(e).toBeInstanceOf(ConfigError);
  return (e as Error).message;
}

describe("vigil jobmanager", () => {
  it("refuses bad settings before starting anything, naming the key and its source", async () => {
    expect(await usageError({ config, "rpc-port": "70000" })).toBe(
      '--rpc-port: "70000" is not a port number 0-65535 (0: any free port)',
    );
    await writeFile(config, "heartbeat: 1\n", { flag: "a" });
    expect(await usageError({ config })).toBe(
      `${config}: heartbeat: unknown key; vigil jobmanager accepts ha, ha-endpoints, cluster-id, name, storage-dir, rpc-host, advertised-host, rpc-port, ttl, savepoint-dir, heartbeat-interval, heartbeat-timeout, log-level`,
    );
  });

  it("refuses a TaskManager key, a config file that is not there, and extra arguments", async () => {
    await writeFile(config, "slots: 2\n", { flag: "a" });
    expect(await usageError({ config })).toMatch(
      /: slots: a TaskManager setting; vigil jobmanager does not accept it/,
    );
    expect(await usageError({ config: join(dir, "nope.yaml") })).toMatch(
      /^--config .*nope\.yaml: cannot read the config file: no such file$/,
    );
    expect(await usageError({ config }, ["extra"])).toBe(
      'unexpected argument "extra"; see vigil jobmanager --help',
    );
    expect(() => parseFlags(jobmanagerCommand, ["--slots", "2"])).toThrow(
      "unknown option --slots; see vigil jobmanager --help",
    );
  });

  it("documents every key, the sources and examples in --help", () => {
    const help = helpText(jobmanagerCommand);
    for (const flag of [
      "--config FILE",
      "--heartbeat-timeout SECONDS",
      "--storage-dir file:///DIR",
      "--ttl",
    ]) {
      expect(help).toContain(flag);
    }
    expect(help).toContain("VIGIL_HA_ENDPOINTS");
    expect(help).toContain("Examples:");
  });
});
