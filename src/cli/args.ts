// Flag parsing for every vigil command: node:util parseArgs in strict mode, errors turned into ConfigErrors
// that name the flag and point at --help.
import { parseArgs } from "node:util";
import { ConfigError } from "../common/errors.ts";

export interface FlagSpec {
  readonly type: "string" | "boolean";
  /** Shown in --help, e.g. "HOST:PORT[,…]". */
  readonly value?: string;
  readonly help: string;
  readonly default?: string;
}

export type Flags = Record<string, FlagSpec>;

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly flags: Flags;
  /** Extra text after the flag list (examples, output format). */
  readonly details?: string;
  /** Runs the command; resolves with the exit code. */
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>;
}

export function parseFlags(
  command: Command,
  argv: readonly string[],
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  const options = Object.fromEntries(
    Object.entries(command.flags).map(([name, spec]) => [name, { type: spec.type }]),
  ) as Record<string, { type: "string" | "boolean" }>;
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options,
      strict: true,
      allowPositionals: true,
    });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (e: unknown) {
    const message =
      e instanceof Error
        ? e.message.split("\n")[0]!.replace(/^Unknown option '([^']*)'.*$/, "unknown option $1")
        : String(e);
    throw new ConfigError(`${message}; see vigil ${command.name} --help`);
  }
}

export function helpText(command: Command): string {
  const width =
    Math.max(
      ...Object.entries(command.flags).map(([n, s]) => n.length + (s.value ? s.value.length + 1 : 0)),
    ) + 4;
  const lines = [`vigil ${command.name} — ${command.summary}`, "", `Usage: ${command.usage}`, "", "Options:"];
  for (const [name, spec] of Object.entries(command.flags)) {
    const left = `--${name}${spec.value ? " " + spec.value : ""}`;
    const def = spec.default !== undefined ? ` (default: ${spec.default})` : "";
    lines.push(`  ${left.padEnd(width)}${spec.help}${def}`);
  }
  if (command.details) lines.push("", command.details);
  return lines.join("\n") + "\n";
}

/** A string flag that must be present; the error names it. */
export function required(
  values: Record<string, string | boolean | undefined>,
  name: string,
  command: string,
): string {
  const v = values[name];
  if (typeof v !== "string" || v === "")
    throw new ConfigError(`--${name} is required; see vigil ${command} --help`);
  return v;
}

/** A positive number of seconds (fractions allowed) given as a string flag, in ms. */
export function secondsFlag(value: string | boolean | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === "string" && /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n <= 0)
    throw new ConfigError(`--${name}: ${JSON.stringify(value)} is not a positive number of seconds`);
  return Math.round(n * 1000);
}
