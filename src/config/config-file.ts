// The config file (YAML) and the gathering of all three configuration sources for a process: the file named
// by --config (or VIGIL_CONFIG), else ./vigil.yaml when it exists, else none.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parse } from "yaml";
import { ConfigError, fileReadFailure } from "../common/errors.ts";
import { CONFIG_FILE_ENV, vigilEnvironment } from "./environment.ts";
import type { ConfigFile, ConfigSources } from "./process-config.ts";

export const DEFAULT_CONFIG_FILE = "vigil.yaml";

/** Parses the file's text; its top level must be a mapping of keys (an empty file is no keys). */
export function parseConfigFile(path: string, text: string): ConfigFile {
  let doc: unknown;
  try {
    doc = parse(text, { uniqueKeys: true });
  } catch (e: unknown) {
    const detail = e instanceof Error ? e.message.split("\n")[0]!.replace(/:$/, "") : String(e);
    throw new ConfigError(`${path}: not valid YAML: ${detail}`);
  }
  if (doc === null || doc === undefined) return { path, values: {} };
  if (typeof doc !== "object" || Array.isArray(doc)) {
    const found = Array.isArray(doc) ? "a list" : `the ${typeof doc} ${JSON.stringify(doc)}`;
    throw new ConfigError(`${path}: expected a mapping of keys (e.g. "ha: etcd"), found ${found}`);
  }
  return { path, values: doc as Record<string, unknown> };
}

export interface LoadOptions {
  /** Where ./vigil.yaml and a relative --config are looked up; process.cwd() by default. */
  readonly cwd?: string;
  /** VIGIL_* variables; the process's own by default. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Reads the config file and the environment for a process command. `flags` are the command's parsed values;
 * `config` and `help` are taken out, the rest are configuration keys. An explicitly named file that cannot be
 * read is an error; a missing ./vigil.yaml is not.
 */
export async function loadConfigSources(
  flags: Readonly<Record<string, string | boolean | undefined>>,
  options: LoadOptions = {},
): Promise<ConfigSources> {
  const { config, help: _help, ...keys } = flags;
  if (config === "") throw new ConfigError("--config: no file name given");
  const env = options.env ?? vigilEnvironment();
  const cwd = options.cwd ?? process.cwd();
  const named =
    typeof config === "string"
      ? { path: config, where: `--config ${config}` }
      : env[CONFIG_FILE_ENV]
        ? { path: env[CONFIG_FILE_ENV], where: `${CONFIG_FILE_ENV}=${env[CONFIG_FILE_ENV]}` }
        : undefined;
  const path = named?.path ?? DEFAULT_CONFIG_FILE;
  let text: string;
  try {
    text = await readFile(resolve(cwd, path), "utf8");
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" && named === undefined) return { flags: keys, env };
    throw new ConfigError(`${named?.where ?? path}: cannot read the config file: ${fileReadFailure(e)}`);
  }
  return { flags: keys, env, file: parseConfigFile(path, text) };
}
