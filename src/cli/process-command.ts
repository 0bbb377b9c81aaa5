// What `vigil jobmanager` and `vigil taskmanager` share: flags generated from the configuration keys (so that
// --help, VIGIL_* and the config file name the same keys), and running a server process until a signal.
import { monotonicNow } from "../common/clock.ts";
import { envName, keysOf, type ProcessKind } from "../config/process-keys.ts";
import type { Flags } from "./args.ts";
import { emit } from "./output.ts";
import type { Shutdown } from "./signals.ts";

/** --config, one flag per configuration key of `kind`, and --help. */
export function processFlags(kind: ProcessKind): Flags {
  const flags: Flags = {
    config: {
      type: "string",
      value: "FILE",
      help: "YAML config file; also VIGIL_CONFIG",
      default: "./vigil.yaml when it exists",
    },
  };
  for (const k of keysOf(kind)) {
    flags[k.key] = {
      type: "string",
      value: k.value,
      help: k.help,
      ...(k.key === "name"
        ? { default: `${kind}-<hostname>-<pid>` }
        : k.default !== undefined
          ? { default: k.default }
          : {}),
    };
  }
  flags.help = { type: "boolean", help: "show this help" };
  return flags;
}

/** The --help paragraph on where settings come from, with a sample config file. */
export function sourcesHelp(kind: ProcessKind, sample: readonly string[]): string {
  const example = keysOf(kind)[1]!.key;
  return [
    "Every option can also come from the environment or a YAML config file, under the same name:",
    `--${example} → ${envName(example)} → "${example}:" in the file. Flags win over the environment, the`,
    "environment over the file, the file over the defaults. Unknown keys and bad values are errors that name",
    "the key and where it came from. An empty VIGIL_* variable counts as unset.",
    "",
    "Example vigil.yaml:",
    ...sample.map((line) => `  ${line}`),
  ].join("\n");
}

/** A JobManager or TaskManager as the CLI drives it. */
export interface ServerProcess {
  /** Resolves with the bound address. */
  start(): Promise<string>;
  /** Graceful: resign, drain, stop serving. Idempotent. */
  close(): Promise<void>;
}

export interface ServeOptions {
  /** Shown in the stop events and messages. */
  readonly name: string;
  readonly command: string;
  /** Called on a second signal during the shutdown; exits the process by default. */
  readonly forceExit?: (code: number) => void;
  /** A signal this soon after the first request is the same request delivered twice (default 250 ms). */
  readonly duplicateWindowMs?: number;
}

/**
 * Ctrl-C in a terminal signals the whole foreground process group, and wrappers (npm, timeout(1)) forward
 * the signal as well, so one request can arrive twice within milliseconds; a person asking twice is slower.
 */
export const DUPLICATE_SIGNAL_WINDOW_MS = 250;

/**
 * Starts `server`, serves until the first shutdown request, then closes it and resolves with 0. A second
 * SIGTERM/SIGINT while closing exits at once with 1 (an operator who asks twice wants the process gone),
 * unless it is the first one delivered twice.
 * A failed start closes what was started and rethrows.
 */
export async function serveUntilShutdown(
  server: ServerProcess,
  shutdown: Shutdown,
  options: ServeOptions,
): Promise<number> {
  const forceExit = options.forceExit ?? ((code: number) => process.exit(code));
  try {
    // A shutdown during start() goes straight to close(), which must stop a start() still in progress.
    await shutdown.race(server.start());
  } catch (e: unknown) {
    await server.close().catch(() => undefined);
    throw e;
  }
  const cause = await shutdown.requested;
  const requestedAt = monotonicNow();
  const window = options.duplicateWindowMs ?? DUPLICATE_SIGNAL_WINDOW_MS;
  emit({ event: "stopping", name: options.name, cause });
  const force = (signal: NodeJS.Signals): void => {
    if (monotonicNow() - requestedAt < window) return;
    process.stderr.write(
      `vigil ${options.command}: ${signal} again: exiting without finishing the shutdown\n`,
    );
    forceExit(1);
  };
  process.on("SIGTERM", force);
  process.on("SIGINT", force);
  try {
    await server.close();
  } finally {
    process.off("SIGTERM", force);
    process.off("SIGINT", force);
  }
  emit({ event: "stopped", name: options.name });
  return 0;
}
