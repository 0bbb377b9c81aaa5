// The vigil JobManager processes of one cluster on this host, found in /proc: a command line that runs the
// vigil entry point with the `jobmanager` subcommand, and a cluster id taken where the JobManager itself takes
// it (flags > VIGIL_* environment > config file; src/config/process-config.ts).
import { readFileSync, readlinkSync } from "node:fs";
import { basename, resolve } from "node:path";
import { fileReadFailure } from "../common/errors.ts";
import { DEFAULT_CONFIG_FILE, parseConfigFile } from "../config/config-file.ts";
import { CONFIG_FILE_ENV } from "../config/environment.ts";
import { envName } from "../config/process-keys.ts";
import { startTimeOf } from "../local/proc.ts";
import { allPids } from "./proc-net.ts";

export interface JobManagerProcess {
  readonly pid: number;
  /** /proc start time: a different value later means the PID was reused. */
  readonly startTime: string | undefined;
  readonly argv: readonly string[];
  /** The cluster id it runs with; undefined when it could not be told (see `unknown`). */
  readonly clusterId: string | undefined;
  /** Why the cluster id could not be told, as a sentence with a fix. */
  readonly unknown?: string;
}

const CLUSTER_ID_ENV = envName("cluster-id");

/** "a\0b\0" → ["a", "b"]. */
export function parseCmdline(text: string): string[] {
  const parts = text.split("\0");
  if (parts.at(-1) === "") parts.pop();
  return parts;
}

/** "K=V\0…" → {K: V}; entries without "=" are skipped. */
export function parseEnviron(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of parseCmdline(text)) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/**
 * The arguments after `jobmanager` when `argv` runs vigil's entry point (bin/vigil.js, an installed `vigil`,
 * or src/cli/main.ts through a loader) with that subcommand; undefined for any other process.
 */
export function jobManagerArgs(argv: readonly string[]): readonly string[] | undefined {
  for (let i = 0; i + 1 < argv.length; i++) {
    if (isVigilEntry(argv[i]!)) return argv[i + 1] === "jobmanager" ? argv.slice(i + 2) : undefined;
  }
  return undefined;
}

function isVigilEntry(arg: string): boolean {
  return /^vigil(\.m?js|\.ts)?$/.test(basename(arg)) || /(^|\/)cli\/main\.(ts|m?js)$/.test(arg);
}

/** The value of `--name V` or `--name=V` (the last one wins, as in node:util parseArgs). */
export function flagValue(args: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") break;
    if (arg === `--${name}`) value = args[++i];
    else if (arg.startsWith(`--${name}=`)) value = arg.slice(name.length + 3);
  }
  return value;
}

export interface ProcessView {
  readonly pid: number;
  /** Arguments after `jobmanager`. */
  readonly args: readonly string[];
  /** Its environment, or why it could not be read (an errno code). */
  readonly env: Readonly<Record<string, string>> | { readonly error: string };
  /** Its working directory, or why it could not be read. */
  readonly cwd: string | { readonly error: string };
  /** Reads a file as that process would find it (its text, or throws). */
  readonly readFile: (path: string) => string;
}

/** The cluster id a JobManager runs with, in its own precedence; or why it cannot be told. */
export function clusterIdOf(p: ProcessView): { clusterId: string } | { unknown: string } {
  const fromFlag = flagValue(p.args, "cluster-id");
  if (fromFlag !== undefined) return { clusterId: fromFlag };
  const who = `JobManager pid ${p.pid}`;
  const fix = "run vigil drill as the JobManagers' user or as root";
  if ("error" in p.env) return { unknown: `${who}: cannot read its environment (${p.env.error}); ${fix}` };
  const fromEnv = p.env[CLUSTER_ID_ENV];
  if (fromEnv !== undefined && fromEnv !== "") return { clusterId: fromEnv };
  const named = flagValue(p.args, "config") ?? p.env[CONFIG_FILE_ENV];
  const file = named ?? DEFAULT_CONFIG_FILE;
  if (typeof p.cwd !== "string") {
    return { unknown: `${who}: cannot read its working directory to find ${file} (${p.cwd.error}); ${fix}` };
  }
  const path = resolve(p.cwd, file);
  let text: string;
  try {
    text = p.readFile(path);
  } catch (e: unknown) {
    const missing = (e as NodeJS.ErrnoException).code === "ENOENT" && named === undefined;
    if (missing) return { unknown: `${who}: no --cluster-id, no ${CLUSTER_ID_ENV} and no ${path}` };
    return {
      unknown: `${who}: uses the config file ${path}, which I cannot read (${fileReadFailure(e)}); ${fix}`,
    };
  }
  try {
    const value = parseConfigFile(path, text).values["cluster-id"];
    if (typeof value === "string" && value !== "") return { clusterId: value };
    return { unknown: `${who}: its config file ${path} has no cluster-id` };
  } catch (e: unknown) {
    return { unknown: `${who}: its config file ${path} does not parse: ${(e as Error).message}` };
  }
}

/** Every vigil JobManager process on this host, with its cluster id when it can be told. */
export function scanJobManagers(proc = "/proc"): JobManagerProcess[] {
  const found: JobManagerProcess[] = [];
  for (const pid of allPids(proc)) {
    if (pid === process.pid) continue;
    let argv: string[];
    try {
      argv = parseCmdline(readFileSync(`${proc}/${pid}/cmdline`, "utf8"));
    } catch {
      continue; // Gone, or a kernel thread.
    }
    const args = jobManagerArgs(argv);
    if (args === undefined) continue;
    const startTime = startTimeOf(pid);
    const id = clusterIdOf({
      pid,
      args,
      env: attempt(() => parseEnviron(readFileSync(`${proc}/${pid}/environ`, "utf8"))),
      cwd: attempt(() => readlinkSync(`${proc}/${pid}/cwd`)),
      readFile: (path) => readFileSync(`${proc}/${pid}/root${path}`, "utf8"),
    });
    found.push(
      "clusterId" in id
        ? { pid, startTime, argv, clusterId: id.clusterId }
        : { pid, startTime, argv, clusterId: undefined, unknown: id.unknown },
    );
  }
  return found;
}

function attempt<T>(read: () => T): T | { error: string } {
  try {
    return read();
  } catch (e: unknown) {
    return { error: (e as NodeJS.ErrnoException).code ?? String(e) };
  }
}
