// The configuration keys of the JobManager and TaskManager processes and how each value is read. One table
// feeds the flags (--ha-endpoints), the environment (VIGIL_HA_ENDPOINTS), the config file (ha-endpoints:) and
// the --help text, so the three sources cannot drift apart.
import { isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../common/errors.ts";

export type ProcessKind = "jobmanager" | "taskmanager";

export interface ConfigKey {
  readonly key: string;
  /** The processes that accept this key; the other one rejects it. */
  readonly processes: readonly ProcessKind[];
  /** Placeholder shown in --help, e.g. "HOST:PORT[,…]". */
  readonly value: string;
  readonly help: string;
  /** The default as shown in --help. */
  readonly default?: string;
}

const BOTH: readonly ProcessKind[] = ["jobmanager", "taskmanager"];

export const CONFIG_KEYS: readonly ConfigKey[] = [
  { key: "ha", processes: BOTH, value: "etcd|zookeeper", help: "the HA backend" },
  {
    key: "ha-endpoints",
    processes: BOTH,
    value: "HOST:PORT[,…]",
    help: "etcd members / ZooKeeper servers (a list in the config file)",
  },
  { key: "cluster-id", processes: BOTH, value: "C", help: "cluster id; namespaces every key (/vigil/C/…)" },
  {
    key: "name",
    processes: BOTH,
    value: "N",
    help: "this process's name (the TaskManager's id)",
    default: "jobmanager-<hostname>-<pid> / taskmanager-<hostname>-<pid>",
  },
  {
    key: "storage-dir",
    processes: BOTH,
    value: "file:///DIR",
    help: "file storage shared by every JobManager and TaskManager (required)",
  },
  {
    key: "rpc-host",
    processes: BOTH,
    value: "HOST",
    help: "address the gRPC server binds",
    default: "127.0.0.1",
  },
  {
    key: "advertised-host",
    processes: BOTH,
    value: "HOST",
    help: "host other processes reach this one at",
    default: "rpc-host, or this machine's hostname when rpc-host is 0.0.0.0 or ::",
  },
  {
    key: "rpc-port",
    processes: BOTH,
    value: "PORT",
    help: "port the gRPC server binds (0: any free port)",
    default: "0",
  },
  {
    key: "ttl",
    processes: BOTH,
    value: "SECONDS",
    help: "etcd lease TTL / ZooKeeper session timeout; a leader's failover takes about this long",
    default: "5",
  },
  {
    key: "savepoint-dir",
    processes: ["jobmanager"],
    value: "DIR",
    help: "where savepoints go when vigil savepoint / vigil stop name no --dir (absolute path or file:/// URI)",
    default: "<storage-dir>/savepoints",
  },
  {
    key: "heartbeat-interval",
    processes: ["jobmanager"],
    value: "SECONDS",
    help: "how often TaskManagers heartbeat (told at registration)",
    default: "0.5",
  },
  {
    key: "heartbeat-timeout",
    processes: ["jobmanager"],
    value: "SECONDS",
    help: "a TaskManager silent this long is lost; more than twice the interval",
    default: "2",
  },
  { key: "slots", processes: ["taskmanager"], value: "N", help: "task slots offered", default: "1" },
  {
    key: "log-level",
    processes: BOTH,
    value: "debug|info|warn|error",
    help: "log lines on stderr from this level up",
    default: "info",
  },
];

export function keysOf(kind: ProcessKind): readonly ConfigKey[] {
  return CONFIG_KEYS.filter((k) => k.processes.includes(kind));
}

/** ha-endpoints → VIGIL_HA_ENDPOINTS. */
export function envName(key: string): string {
  return `VIGIL_${key.toUpperCase().replaceAll("-", "_")}`;
}

export function processTitle(kind: ProcessKind): string {
  return kind === "jobmanager" ? "JobManager" : "TaskManager";
}

/** A value as the user wrote it, for error messages. */
export function show(value: unknown): string {
  return typeof value === "string" || Array.isArray(value) ? JSON.stringify(value) : String(value);
}

function fail(where: string, problem: string): never {
  throw new ConfigError(`${where}: ${problem}`);
}

/** A string value; YAML scalars that parse as numbers or booleans must be quoted to keep their text. */
export function stringValue(value: unknown, where: string): string {
  if (typeof value === "string") return value;
  if (value === null) fail(where, "has no value; give one or remove the key");
  if (typeof value === "number" || typeof value === "boolean") {
    fail(where, `${show(value)} is not text; quote it ("${String(value)}") so that YAML keeps it as written`);
  }
  return fail(where, `${show(value)} is not text`);
}

/** Positive seconds (fractions allowed), as whole ms; at least `minMs`. */
export function secondsValue(value: unknown, where: string, minMs = 1): number {
  const n =
    typeof value === "number"
      ? value
      : typeof value === "string" && /^\d+(\.\d+)?$/.test(value)
        ? Number(value)
        : Number.NaN;
  if (!Number.isFinite(n) || n <= 0) fail(where, `${show(value)} is not a positive number of seconds`);
  const ms = Math.round(n * 1000);
  if (ms < minMs) fail(where, `${show(value)} s is too short; it must be at least ${minMs / 1000} s`);
  return ms;
}

/** An integer in [min, max]; `range` describes the allowed values in the message. */
export function integerValue(value: unknown, where: string, min: number, max: number, range: string): number {
  const n =
    typeof value === "number"
      ? value
      : typeof value === "string" && /^\d+$/.test(value)
        ? Number(value)
        : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) fail(where, `${show(value)} is not ${range}`);
  return n;
}

/** "a:1,b:2" or, from the config file, a list of strings. compileHaConfig checks each endpoint. */
export function endpointsValue(value: unknown, where: string): string | readonly string[] {
  if (Array.isArray(value)) {
    return value.map((v: unknown, i) => stringValue(v, `${where}[${i}]`));
  }
  return stringValue(value, where);
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function nameValue(value: unknown, where: string): string {
  const s = stringValue(value, where);
  if (!NAME.test(s)) {
    fail(where, `${show(s)} is not a valid name; use 1-128 letters, digits, '.', '_' or '-'`);
  }
  return s;
}

const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9.-]*$/;
const IPV6 = /^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*$/;

/** A host name or IP address; IPv6 with or without brackets, returned bare (the RPC server adds them). */
export function hostValue(value: unknown, where: string): string {
  const s = stringValue(value, where);
  const bare = s.startsWith("[") && s.endsWith("]") ? s.slice(1, -1) : s;
  if (!HOST_NAME.test(bare) && !IPV6.test(bare)) {
    fail(where, `${show(s)} is not a host name or IP address`);
  }
  return bare;
}

/** A file:/// URI of an absolute directory, normalised (FileBlobStore reads it back with fileURLToPath). */
export function storageDirValue(value: unknown, where: string): string {
  const s = stringValue(value, where);
  const hint = s.startsWith("/") ? `; use file://${s}` : "; e.g. file:///var/lib/vigil";
  if (!s.startsWith("file:///")) fail(where, `${show(s)} is not a file:/// URI of an absolute path${hint}`);
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return fail(where, `${show(s)} is not a valid URI${hint}`);
  }
  if (url.search !== "" || url.hash !== "") fail(where, `${show(s)}: a directory URI takes no ? or #`);
  if (url.pathname === "/") fail(where, `${show(s)} is the root directory; name a directory for vigil`);
  return url.href;
}

/** An absolute directory, given as a path or a file:/// URI; returned as a path. */
export function directoryValue(value: unknown, where: string): string {
  const s = stringValue(value, where);
  if (s.startsWith("file:")) return fileURLToPath(new URL(storageDirValue(s, where)));
  if (!isAbsolute(s)) fail(where, `${show(s)} is not an absolute path; e.g. /var/lib/vigil/savepoints`);
  return s;
}

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

export function logLevelValue(value: unknown, where: string): (typeof LOG_LEVELS)[number] {
  const s = stringValue(value, where);
  const level = LOG_LEVELS.find((l) => l === s);
  if (level === undefined) fail(where, `${show(s)} is not a log level; use ${LOG_LEVELS.join(", ")}`);
  return level;
}

/** The closest of `candidates` within two edits, for "did you mean …?". */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      next.push(Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + cost));
    }
    row = next;
  }
  return row[b.length]!;
}
