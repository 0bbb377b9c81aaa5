// Restarting a JobManager as it was started: its executable, argv, working directory and environment are read
// from /proc BEFORE it is stopped (afterwards they are gone), and the copy runs detached, in a session of its
// own, with stdout and stderr appended to a log file, so that it outlives vigil drill.
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, readlinkSync } from "node:fs";
import { dirname } from "node:path";
import { fileReadFailure, UnavailableError } from "../common/errors.ts";
import { startTimeOf } from "../local/proc.ts";
import { parseCmdline, parseEnviron } from "./jobmanagers.ts";

export interface LaunchSpec {
  readonly pid: number;
  readonly startTime: string | undefined;
  /** Absolute path of the executable (/proc/PID/exe). */
  readonly exe: string;
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

/** Reads how `pid` was started; throws UnavailableError naming what could not be read and how to fix it. */
export function captureLaunch(pid: number, proc = "/proc"): LaunchSpec {
  const read = <T>(what: string, get: () => T): T => {
    try {
      return get();
    } catch (e: unknown) {
      throw new UnavailableError(
        `cannot read ${what} of JobManager pid ${pid} (${fileReadFailure(e)}), so it could not be restarted ` +
          "after the drill; run vigil drill as the JobManagers' user or as root",
        e,
      );
    }
  };
  const argv = read(`${proc}/${pid}/cmdline`, () =>
    parseCmdline(readFileSync(`${proc}/${pid}/cmdline`, "utf8")),
  );
  const env = read(`${proc}/${pid}/environ`, () =>
    parseEnviron(readFileSync(`${proc}/${pid}/environ`, "utf8")),
  );
  const cwd = read(`${proc}/${pid}/cwd`, () => readlinkSync(`${proc}/${pid}/cwd`));
  const exe = read(`${proc}/${pid}/exe`, () => readlinkSync(`${proc}/${pid}/exe`));
  if (argv.length === 0) throw new UnavailableError(`JobManager pid ${pid} exited before it could be read`);
  return { pid, startTime: startTimeOf(pid), exe: exe.replace(/ \(deleted\)$/, ""), argv, cwd, env };
}

/**
 * Starts a copy of `spec` detached, output appended to `logPath`; resolves with its PID once spawned, or
 * rejects with why it could not start (missing executable or working directory).
 */
export function relaunch(spec: LaunchSpec, logPath: string): Promise<number> {
  mkdirSync(dirname(logPath), { recursive: true });
  const log = openSync(logPath, "a");
  try {
    const child = spawn(spec.exe, spec.argv.slice(1), {
      argv0: spec.argv[0]!,
      cwd: spec.cwd,
      env: { ...spec.env },
      detached: true,
      stdio: ["ignore", log, log],
    });
    return new Promise((resolve, reject) => {
      // Also after "spawn": a later error event must not crash this process.
      child.on("error", (e) =>
        reject(
          new UnavailableError(`could not restart ${spec.argv.join(" ")} in ${spec.cwd}: ${e.message}`, e),
        ),
      );
      child.once("spawn", () => {
        // Not ours to wait for: it must outlive this command.
        child.unref();
        resolve(child.pid!);
      });
    });
  } finally {
    closeSync(log);
  }
}
