// The validated configuration of the JobManager and TaskManager processes, compiled from three sources with
// the precedence flags > VIGIL_* environment > config file > defaults. Every problem is a ConfigError that
// names the key as its source spells it (`--slots`, `VIGIL_SLOTS`, `vigil.yaml: slots`), so the user knows
// which of the three to fix. Unknown keys are errors in every source: a typo must not silently fall back to a
// default.
import { hostname } from "node:os";
import { ConfigError } from "../common/errors.ts";
import type { LogLevel } from "../common/logger.ts";
import { INTERNAL_ENV } from "./environment.ts";
import { compileHaConfig, HA_DEFAULTS, type HaConfig, type HaOptions } from "./ha-config.ts";
import {
  CONFIG_KEYS,
  closest,
  endpointsValue,
  envName,
  hostValue,
  integerValue,
  keysOf,
  logLevelValue,
  nameValue,
  type ProcessKind,
  processTitle,
  secondsValue,
  storageDirValue,
  directoryValue,
  stringValue,
} from "./process-keys.ts";

/** A parsed config file: its name as messages show it ("vigil.yaml", "conf/tm.yaml") and its top-level keys. */
export interface ConfigFile {
  readonly path: string;
  readonly values: Readonly<Record<string, unknown>>;
}

export interface ConfigSources {
  /** Command-line values by flag name without dashes ("rpc-port"); only configuration keys. */
  readonly flags?: Readonly<Record<string, string | boolean | undefined>>;
  /** Environment variables; VIGIL_* ones are read, the rest ignored. An empty value counts as unset. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly file?: ConfigFile;
  /** For the default name; os.hostname() and process.pid when absent. */
  readonly hostname?: string;
  readonly pid?: number;
}

interface ProcessConfigBase {
  readonly ha: HaConfig;
  readonly name: string;
  /** file:/// URI of the directory shared by every JobManager and TaskManager. */
  readonly storageDir: string;
  readonly rpcHost: string;
  /** Host published to other processes; undefined: rpcHost, or the hostname for a wildcard bind. */
  readonly advertisedHost: string | undefined;
  /** 0: any free port. */
  readonly rpcPort: number;
  readonly logLevel: LogLevel;
}

export interface JobManagerConfig extends ProcessConfigBase {
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  /** Absolute path; undefined: "savepoints" in the storage directory. */
  readonly savepointDir: string | undefined;
}

export interface TaskManagerConfig extends ProcessConfigBase {
  readonly slots: number;
}

export const PROCESS_DEFAULTS = {
  rpcHost: "127.0.0.1",
  rpcPort: 0,
  heartbeatIntervalMs: 500,
  heartbeatTimeoutMs: 2_000,
  slots: 1,
  logLevel: "info",
} as const;

export function compileJobManagerConfig(sources: ConfigSources): JobManagerConfig {
  const get = layered("jobmanager", sources);
  const base = compileBase("jobmanager", sources, get);
  const interval = get("heartbeat-interval");
  const timeout = get("heartbeat-timeout");
  const heartbeatIntervalMs = interval
    ? secondsValue(interval.value, interval.where, 10)
    : PROCESS_DEFAULTS.heartbeatIntervalMs;
  const heartbeatTimeoutMs = timeout
    ? secondsValue(timeout.value, timeout.where)
    : PROCESS_DEFAULTS.heartbeatTimeoutMs;
  if (heartbeatTimeoutMs <= 2 * heartbeatIntervalMs) {
    const from = interval ? ` from ${interval.where}` : ", the default";
    throw new ConfigError(
      `${timeout?.where ?? "heartbeat-timeout (default)"}: ${heartbeatTimeoutMs / 1000} s must be more than twice the heartbeat interval (${heartbeatIntervalMs / 1000} s${from}), so that one late heartbeat does not drop a TaskManager`,
    );
  }
  const savepointAt = get("savepoint-dir");
  const savepointDir = savepointAt ? directoryValue(savepointAt.value, savepointAt.where) : undefined;
  return { ...base, heartbeatIntervalMs, heartbeatTimeoutMs, savepointDir };
}

export function compileTaskManagerConfig(sources: ConfigSources): TaskManagerConfig {
  const get = layered("taskmanager", sources);
  const base = compileBase("taskmanager", sources, get);
  const slots = get("slots");
  return {
    ...base,
    slots: slots
      ? integerValue(slots.value, slots.where, 1, Number.MAX_SAFE_INTEGER, "an integer ≥ 1")
      : PROCESS_DEFAULTS.slots,
  };
}

interface Found {
  readonly value: unknown;
  /** The key as its source spells it, the prefix of every message about it. */
  readonly where: string;
}

type Lookup = (key: string) => Found | undefined;

function compileBase(kind: ProcessKind, sources: ConfigSources, get: Lookup): ProcessConfigBase {
  const fileName = sources.file?.path ?? "vigil.yaml";
  const missing = (key: string, what: string): ConfigError =>
    new ConfigError(
      `${key} is required${what}; set it with --${key}, ${envName(key)} or "${key}:" in ${fileName}`,
    );

  const backendAt = get("ha");
  if (!backendAt) throw missing("ha", ": etcd or zookeeper");
  const backend = stringValue(backendAt.value, backendAt.where);
  if (backend === "memory") {
    throw new ConfigError(
      `${backendAt.where}: "memory" works only inside one process (unit tests); use etcd or zookeeper`,
    );
  }
  const endpointsAt = get("ha-endpoints");
  const clusterAt = get("cluster-id");
  const ttlAt = get("ttl");
  const options: HaOptions = {
    backend,
    ttlMs: ttlAt ? secondsValue(ttlAt.value, ttlAt.where) : HA_DEFAULTS.ttlMs,
  };
  if (endpointsAt) options.endpoints = endpointsValue(endpointsAt.value, endpointsAt.where);
  else if (backend === "etcd" || backend === "zookeeper") {
    throw missing("ha-endpoints", ` for ${backend}: HOST:PORT[,HOST:PORT…]`);
  }
  if (clusterAt) options.clusterId = stringValue(clusterAt.value, clusterAt.where);
  else if (backend === "etcd" || backend === "zookeeper") throw missing("cluster-id", "");
  const ha = compileHaConfig(options, {
    backend: backendAt.where,
    endpoints: endpointsAt?.where ?? "ha-endpoints",
    clusterId: clusterAt?.where ?? "cluster-id",
    ttlMs: ttlAt?.where ?? "ttl",
  });

  const nameAt = get("name");
  const name = nameAt
    ? nameValue(nameAt.value, nameAt.where)
    : nameValue(
        `${kind}-${sources.hostname ?? hostname()}-${sources.pid ?? process.pid}`,
        "name (default from the host name; set --name)",
      );
  const storageAt = get("storage-dir");
  if (!storageAt) {
    throw missing(
      "storage-dir",
      ": a file:/// URI of a directory shared by every JobManager and TaskManager",
    );
  }
  const hostAt = get("rpc-host");
  const advertisedAt = get("advertised-host");
  const portAt = get("rpc-port");
  const levelAt = get("log-level");
  return {
    ha,
    name,
    storageDir: storageDirValue(storageAt.value, storageAt.where),
    rpcHost: hostAt ? hostValue(hostAt.value, hostAt.where) : PROCESS_DEFAULTS.rpcHost,
    advertisedHost: advertisedAt ? hostValue(advertisedAt.value, advertisedAt.where) : undefined,
    rpcPort: portAt
      ? integerValue(portAt.value, portAt.where, 0, 65535, "a port number 0-65535 (0: any free port)")
      : PROCESS_DEFAULTS.rpcPort,
    logLevel: levelAt ? logLevelValue(levelAt.value, levelAt.where) : PROCESS_DEFAULTS.logLevel,
  };
}

/** Checks every source for keys this process does not accept, then looks keys up by precedence. */
function layered(kind: ProcessKind, sources: ConfigSources): Lookup {
  const own = keysOf(kind).map((k) => k.key);
  const other = kind === "jobmanager" ? "taskmanager" : "jobmanager";
  const refuse = (where: string, key: string, spell: (k: string) => string, noun: string): never => {
    if (CONFIG_KEYS.some((k) => k.key === key)) {
      throw new ConfigError(
        `${where}: a ${processTitle(other)} setting; vigil ${kind} does not accept it (use a config file per process)`,
      );
    }
    const guess = closest(key, own);
    const hint = guess === undefined ? "" : ` (did you mean ${spell(guess)}?)`;
    throw new ConfigError(
      `${where}: unknown ${noun}${hint}; vigil ${kind} accepts ${own.map(spell).join(", ")}`,
    );
  };

  const file = sources.file;
  if (file) {
    for (const key of Object.keys(file.values)) {
      if (!own.includes(key)) refuse(`${file.path}: ${key}`, key, (k) => k, "key");
    }
  }
  const byEnvName = new Map(CONFIG_KEYS.map((k) => [envName(k.key), k.key]));
  for (const [variable, value] of Object.entries(sources.env ?? {})) {
    if (!variable.startsWith("VIGIL_") || INTERNAL_ENV.includes(variable) || value === undefined) continue;
    const key = byEnvName.get(variable);
    if (key === undefined || !own.includes(key)) {
      refuse(variable, key ?? variable.slice(6).toLowerCase().replaceAll("_", "-"), envName, "variable");
    }
  }
  for (const [flag, value] of Object.entries(sources.flags ?? {})) {
    if (value !== undefined && !own.includes(flag)) refuse(`--${flag}`, flag, (k) => `--${k}`, "option");
  }

  return (key) => {
    const flag = sources.flags?.[key];
    if (flag !== undefined) return { value: flag, where: `--${key}` };
    const env = sources.env?.[envName(key)];
    if (env !== undefined && env !== "") return { value: env, where: envName(key) };
    if (file && Object.hasOwn(file.values, key))
      return { value: file.values[key], where: `${file.path}: ${key}` };
    return undefined;
  };
}
