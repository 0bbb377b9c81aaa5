import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../common/errors.ts";
import { loadConfigSources, parseConfigFile } from "./config-file.ts";
import { type ConfigSources, compileJobManagerConfig, compileTaskManagerConfig } from "./process-config.ts";

const HA = {
  ha: "etcd",
  "ha-endpoints": "127.0.0.1:2379",
  "cluster-id": "c1",
  "storage-dir": "file:///tmp/v",
};
const id = { hostname: "host1", pid: 42 };
const yaml = (text: string, path = "vigil.yaml") => parseConfigFile(path, text);

function jmError(sources: ConfigSources): string {
  return errorOf(() => compileJobManagerConfig({ ...id, ...sources }));
}
function tmError(sources: ConfigSources): string {
  return errorOf(() => compileTaskManagerConfig({ ...id, ...sources }));
}
function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e: unknown) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("compileJobManagerConfig / compileTaskManagerConfig", () => {
  it("fills every default", () => {
    const jm = compileJobManagerConfig({ ...id, flags: HA });
    expect(jm).toEqual({
      ha: expect.objectContaining({
        backend: "etcd",
        endpoints: ["127.0.0.1:2379"],
        clusterId: "c1",
        ttlMs: 5000,
      }),
      name: "jobmanager-host1-42",
      storageDir: "file:///tmp/v",
      rpcHost: "127.0.0.1",
      rpcPort: 0,
      heartbeatIntervalMs: 500,
      heartbeatTimeoutMs: 2000,
      logLevel: "info",
    });
    const tm = compileTaskManagerConfig({ ...id, flags: HA });
    expect(tm).toMatchObject({ name: "taskmanager-host1-42", slots: 1, rpcPort: 0, logLevel: "info" });
    expect(tm).not.toHaveProperty("heartbeatIntervalMs");
  });

  it("takes flags over the environment over the file over defaults, key by key", () => {
    const file = yaml(
      [
        "ha: zookeeper",
        "ha-endpoints: [zk1:2181, zk2:2181]",
        "cluster-id: from-file",
        "storage-dir: file:///srv/vigil",
        "slots: 2",
        "rpc-port: 7000",
        "log-level: debug",
        "name: file-name",
      ].join("\n"),
    );
    const env = { VIGIL_SLOTS: "3", VIGIL_RPC_PORT: "7001", VIGIL_NAME: "env-name", VIGIL_RPC_HOST: "" };
    const flags = { slots: "4", "rpc-host": "0.0.0.0" };
    const c = compileTaskManagerConfig({ ...id, file, env, flags });
    expect(c).toMatchObject({
      slots: 4,
      rpcPort: 7001,
      name: "env-name",
      rpcHost: "0.0.0.0",
      logLevel: "debug",
      storageDir: "file:///srv/vigil",
    });
    expect(c.ha).toMatchObject({
      backend: "zookeeper",
      endpoints: ["zk1:2181", "zk2:2181"],
      clusterId: "from-file",
    });
    expect(compileTaskManagerConfig({ ...id, file, env }).slots).toBe(3);
    expect(compileTaskManagerConfig({ ...id, file }).slots).toBe(2);
  });

  it("reads ha-endpoints as a YAML list or a comma-separated string, and seconds as numbers or text", () => {
    const list = yaml(
      "ha: etcd\nha-endpoints:\n  - a:1\n  - b:2\ncluster-id: c\nstorage-dir: file:///x\nttl: 3\n",
    );
    expect(compileJobManagerConfig({ ...id, file: list }).ha).toMatchObject({
      endpoints: ["a:1", "b:2"],
      ttlMs: 3000,
    });
    const text = yaml(
      'ha: etcd\nha-endpoints: "a:1, b:2"\ncluster-id: c\nstorage-dir: file:///x\nttl: "4"\n',
    );
    expect(compileJobManagerConfig({ ...id, file: text }).ha).toMatchObject({
      endpoints: ["a:1", "b:2"],
      ttlMs: 4000,
    });
    const hb = compileJobManagerConfig({
      ...id,
      flags: HA,
      env: { VIGIL_HEARTBEAT_INTERVAL: "0.25", VIGIL_HEARTBEAT_TIMEOUT: "1.5" },
    });
    expect(hb).toMatchObject({ heartbeatIntervalMs: 250, heartbeatTimeoutMs: 1500 });
  });

  it("names the source of a bad value: flag, variable or file key", () => {
    const file = yaml('slots: "two"\n');
    expect(tmError({ flags: HA, file })).toBe('vigil.yaml: slots: "two" is not an integer ≥ 1');
    expect(tmError({ flags: HA, env: { VIGIL_SLOTS: "0" } })).toBe('VIGIL_SLOTS: "0" is not an integer ≥ 1');
    expect(tmError({ flags: { ...HA, slots: "1.5" } })).toBe('--slots: "1.5" is not an integer ≥ 1');
    expect(tmError({ flags: HA, file: yaml("slots: 1.5\n", "conf/tm.yaml") })).toBe(
      "conf/tm.yaml: slots: 1.5 is not an integer ≥ 1",
    );
  });

  it("rejects every kind of bad value with a message that says how to fix it", () => {
    expect(jmError({ flags: { ...HA, "rpc-port": "70000" } })).toBe(
      '--rpc-port: "70000" is not a port number 0-65535 (0: any free port)',
    );
    expect(compileJobManagerConfig({ ...id, flags: { ...HA, "rpc-host": "[::1]" } }).rpcHost).toBe("::1");
    expect(jmError({ flags: { ...HA, "rpc-host": "a b" } })).toMatch(/^--rpc-host: "a b" is not a host name/);
    expect(jmError({ flags: { ...HA, "storage-dir": "/var/vigil" } })).toBe(
      '--storage-dir: "/var/vigil" is not a file:/// URI of an absolute path; use file:///var/vigil',
    );
    expect(jmError({ flags: { ...HA, "storage-dir": "file://host/x" } })).toMatch(/is not a file:\/\/\/ URI/);
    expect(jmError({ flags: { ...HA, "storage-dir": "s3://bucket/x" } })).toMatch(
      /e\.g\. file:\/\/\/var\/lib\/vigil/,
    );
    expect(jmError({ flags: { ...HA, "log-level": "trace" } })).toBe(
      '--log-level: "trace" is not a log level; use debug, info, warn, error',
    );
    expect(jmError({ flags: { ...HA, name: "a/b" } })).toMatch(/^--name: "a\/b" is not a valid name/);
    expect(jmError({ flags: { ...HA, ttl: "5s" } })).toBe('--ttl: "5s" is not a positive number of seconds');
    expect(jmError({ flags: { ...HA, ttl: "1.5" } })).toBe(
      "--ttl: etcd lease TTLs are whole seconds; got 1.5 s",
    );
    expect(jmError({ flags: HA, env: { VIGIL_HEARTBEAT_INTERVAL: "1" } })).toBe(
      "heartbeat-timeout (default): 2 s must be more than twice the heartbeat interval (1 s from VIGIL_HEARTBEAT_INTERVAL), so that one late heartbeat does not drop a TaskManager",
    );
    expect(jmError({ flags: { ...HA, "heartbeat-timeout": "1" } })).toMatch(
      /^--heartbeat-timeout: 1 s must be more than twice the heartbeat interval \(0.5 s, the default\)/,
    );
    expect(jmError({ flags: { ...HA, "cluster-id": undefined }, file: yaml("cluster-id: 2024\n") })).toMatch(
      /^vigil.yaml: cluster-id: 2024 is not text; quote it \("2024"\)/,
    );
    expect(jmError({ flags: HA, file: yaml("name:\n") })).toBe(
      "vigil.yaml: name: has no value; give one or remove the key",
    );
    expect(
      jmError({ flags: { ...HA, "ha-endpoints": undefined }, file: yaml("ha-endpoints: [a:1, 7]\n") }),
    ).toMatch(/^vigil.yaml: ha-endpoints\[1\]: 7 is not text/);
  });

  it("checks the HA part with compileHaConfig, naming the source", () => {
    expect(jmError({ flags: { ...HA, ha: undefined }, env: { VIGIL_HA: "consul" } })).toBe(
      'VIGIL_HA: unknown backend "consul"; use etcd or zookeeper',
    );
    expect(
      jmError({ flags: { ...HA, "ha-endpoints": undefined }, file: yaml("ha-endpoints: localhost\n") }),
    ).toMatch(/^vigil.yaml: ha-endpoints: "localhost" is not HOST:PORT/);
    expect(jmError({ flags: { ...HA, "cluster-id": "a/b" } })).toMatch(/^--cluster-id: "a\/b" is invalid/);
    expect(jmError({ flags: { ...HA, ha: "memory" } })).toMatch(
      /^--ha: "memory" works only inside one process/,
    );
  });

  it("says how to give a required key", () => {
    expect(jmError({})).toBe(
      'ha is required: etcd or zookeeper; set it with --ha, VIGIL_HA or "ha:" in vigil.yaml',
    );
    expect(jmError({ flags: { ...HA, "ha-endpoints": undefined } })).toBe(
      'ha-endpoints is required for etcd: HOST:PORT[,HOST:PORT…]; set it with --ha-endpoints, VIGIL_HA_ENDPOINTS or "ha-endpoints:" in vigil.yaml',
    );
    expect(jmError({ flags: { ...HA, "cluster-id": undefined } })).toMatch(
      /^cluster-id is required; set it with --cluster-id/,
    );
    expect(tmError({ flags: { ...HA, "storage-dir": undefined }, file: yaml("", "tm.yaml") })).toMatch(
      /^storage-dir is required: a file:\/\/\/ URI .*"storage-dir:" in tm.yaml$/,
    );
  });

  it("rejects unknown keys and the other process's keys in every source", () => {
    expect(tmError({ flags: HA, file: yaml("slot: 2\n") })).toMatch(
      /^vigil.yaml: slot: unknown key \(did you mean slots\?\); vigil taskmanager accepts ha, ha-endpoints, /,
    );
    expect(tmError({ flags: HA, env: { VIGIL_SLOT: "2" } })).toMatch(
      /^VIGIL_SLOT: unknown variable \(did you mean VIGIL_SLOTS\?\); vigil taskmanager accepts VIGIL_HA, /,
    );
    expect(tmError({ flags: { ...HA, bogus: "1" } })).toMatch(
      /^--bogus: unknown option; vigil taskmanager accepts --ha, /,
    );
    expect(jmError({ flags: HA, file: yaml("slots: 2\n") })).toBe(
      "vigil.yaml: slots: a TaskManager setting; vigil jobmanager does not accept it (use a config file per process)",
    );
    expect(tmError({ flags: HA, env: { VIGIL_HEARTBEAT_TIMEOUT: "3" } })).toMatch(
      /^VIGIL_HEARTBEAT_TIMEOUT: a JobManager setting; vigil taskmanager does not accept it/,
    );
    expect(jmError({ flags: { ...HA, slots: "2" } })).toMatch(/^--slots: a TaskManager setting/);
  });

  it("ignores vigil's internal variables and everything that is not VIGIL_*", () => {
    const env = { VIGIL_HA_RUN_ID: "run-1", VIGIL_CONFIG: "x.yaml", PATH: "/bin", HOME: "/root" };
    expect(compileTaskManagerConfig({ ...id, flags: HA, env }).slots).toBe(1);
  });
});

describe("parseConfigFile", () => {
  it("treats an empty file as no keys and rejects a top level that is not a mapping", () => {
    expect(parseConfigFile("vigil.yaml", "# nothing yet\n").values).toEqual({});
    expect(errorOf(() => parseConfigFile("vigil.yaml", "- ha\n- etcd\n"))).toBe(
      'vigil.yaml: expected a mapping of keys (e.g. "ha: etcd"), found a list',
    );
    expect(errorOf(() => parseConfigFile("vigil.yaml", "etcd\n"))).toMatch(/found the string "etcd"$/);
  });

  it("reports YAML syntax errors and duplicate keys with the line", () => {
    expect(errorOf(() => parseConfigFile("vigil.yaml", "slots: 1\nslots: 2\n"))).toBe(
      "vigil.yaml: not valid YAML: Map keys must be unique at line 2, column 1",
    );
    expect(errorOf(() => parseConfigFile("c.yaml", "ha: [etcd\n"))).toMatch(
      /^c.yaml: not valid YAML: .* at line 2/,
    );
  });
});

describe("loadConfigSources", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "vigil-config-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads ./vigil.yaml when present and nothing when absent", async () => {
    expect(await loadConfigSources({ slots: "2", help: undefined }, { cwd: dir, env: {} })).toEqual({
      flags: { slots: "2" },
      env: {},
    });
    await writeFile(join(dir, "vigil.yaml"), "slots: 5\n");
    const s = await loadConfigSources({}, { cwd: dir, env: {} });
    expect(s.file).toEqual({ path: "vigil.yaml", values: { slots: 5 } });
  });

  it("prefers --config over VIGIL_CONFIG over ./vigil.yaml and fails on a named file that is missing", async () => {
    await writeFile(join(dir, "vigil.yaml"), "slots: 1\n");
    await writeFile(join(dir, "env.yaml"), "slots: 2\n");
    await writeFile(join(dir, "flag.yaml"), "slots: 3\n");
    const env = { VIGIL_CONFIG: "env.yaml" };
    expect((await loadConfigSources({ config: "flag.yaml" }, { cwd: dir, env })).file?.values).toEqual({
      slots: 3,
    });
    const viaEnv = await loadConfigSources({}, { cwd: dir, env });
    expect(viaEnv.file?.values).toEqual({ slots: 2 });
    expect(viaEnv.flags).toEqual({});
    await expect(loadConfigSources({ config: "nope.yaml" }, { cwd: dir, env: {} })).rejects.toThrow(
      "--config nope.yaml: cannot read the config file: no such file",
    );
    await expect(loadConfigSources({ config: "" }, { cwd: dir, env: {} })).rejects.toThrow(
      "--config: no file name given",
    );
    await expect(loadConfigSources({ config: dir }, { cwd: dir, env: {} })).rejects.toThrow(
      /it is a directory/,
    );
  });
});
