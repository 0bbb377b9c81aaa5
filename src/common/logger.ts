// A small injectable logger. Library code takes a Logger; the CLI decides where lines go (stderr by default,
// so that stdout stays machine-readable).
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

function render(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .map(
      ([k, v]) =>
        `${k}=${typeof v === "string" ? v : typeof v === "bigint" ? v.toString() : JSON.stringify(v)}`,
    )
    .join(" ");
}

/** Writes `time level message k=v …` lines to `write` (stderr by default), dropping levels below `level`. */
export function createLogger(
  level: LogLevel = "info",
  base: Record<string, unknown> = {},
  write: (line: string) => void = (line) => process.stderr.write(line + "\n"),
): Logger {
  const log =
    (l: LogLevel) =>
    (message: string, fields: Record<string, unknown> = {}): void => {
      if (ORDER[l] < ORDER[level]) return;
      const all = { ...base, ...fields };
      const rest = Object.keys(all).length ? " " + render(all) : "";
      write(`${new Date().toISOString()} ${l.toUpperCase()} ${message}${rest}`);
    };
  return {
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    child: (fields) => createLogger(level, { ...base, ...fields }, write),
  };
}

/** Drops everything; for tests and benchmarks. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
