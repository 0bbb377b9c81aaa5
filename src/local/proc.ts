// Process identity from /proc: a PID alone may be reused, so every kill of a process that is not our
// live child is guarded by its start time and command line.
import { readFileSync } from "node:fs";

/** Kernel start time (clock ticks since boot) of `pid`, or undefined when there is no such process. */
export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 (comm) may contain spaces and parentheses; fields after the last ")" are plain.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // rest[0] is field 3 (state); starttime is field 22.
    return rest[19];
  } catch (e: unknown) {
    if (isNoEntry(e)) return undefined;
    throw e;
  }
}

/** The /proc state letter of `pid` ("T" while SIGSTOPped), or undefined when there is no such process. */
export function stateOf(pid: number | undefined): string | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch (e: unknown) {
    if (isNoEntry(e)) return undefined;
    throw e;
  }
}

/** The command line of `pid` joined by spaces, or undefined when there is no such process. */
export function cmdlineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch (e: unknown) {
    if (isNoEntry(e)) return undefined;
    throw e;
  }
}

/** True when `pid` is still the process that was recorded (same start time, marker in its command line). */
export function isSameProcess(
  pid: number,
  startTime: string | undefined,
  marker: string | undefined,
): boolean {
  const now = startTimeOf(pid);
  if (now === undefined) return false;
  if (startTime !== undefined && now !== startTime) return false;
  if (marker !== undefined && !(cmdlineOf(pid) ?? "").includes(marker)) return false;
  return true;
}

/** SIGKILL without throwing when the process is already gone. */
export function killQuietly(pid: number, signal: NodeJS.Signals = "SIGKILL"): void {
  try {
    process.kill(pid, signal);
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
  }
}

function isNoEntry(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ESRCH";
}
