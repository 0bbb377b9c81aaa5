// CPU time and memory of a process from /proc (Linux): what another process costs, read from outside without
// its cooperation. CPU is utime + stime, in clock ticks (USER_HZ); a share of one core is CPU time over wall
// time across a window.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

let ticksPerSecond: number | undefined;

/** USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on every common Linux; asked once). */
function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    let n = Number.NaN;
    try {
      n = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8", timeout: 5_000 }).trim());
    } catch {
      // getconf missing: fall through to the default below.
    }
    ticksPerSecond = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return ticksPerSecond;
}

/** utime + stime of `pid` in ms. Throws when the process is gone (a measurement of a dead process is void). */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Field 2 (comm) may hold spaces and parentheses; the fields after the last ")" are plain. rest[0] is
  // field 3 (state), so utime (field 14) is rest[11] and stime (field 15) rest[12].
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(rest[11]) + Number(rest[12]);
  if (!Number.isFinite(ticks))
    throw new Error(`/proc/${pid}/stat: no utime/stime in ${JSON.stringify(stat)}`);
  return (ticks * 1000) / clockTicksPerSecond();
}

/** Resident set size of `pid` in bytes (VmRSS). */
export function rssBytesOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`/proc/${pid}/status: no VmRSS line`);
  return Number(kb) * 1024;
}

/** This process's own CPU time in ms (user + system), microsecond resolution. */
export function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export interface CpuWindow {
  /** CPU time over wall time, as a percentage of one core. */
  readonly percentOfCore: number;
  readonly cpuMs: number;
  readonly wallMs: number;
}

/** Starts a window; the returned function ends it. `read` gives cumulative CPU ms (cpuMsOf or ownCpuMs). */
export function cpuWindow(read: () => number): () => CpuWindow {
  const cpu0 = read();
  const wall0 = performance.now();
  return () => {
    const cpuMs = read() - cpu0;
    const wallMs = performance.now() - wall0;
    return { cpuMs, wallMs, percentOfCore: wallMs > 0 ? (100 * cpuMs) / wallMs : 0 };
  };
}

/** Established TCP connections whose local port is `port` (the server side of its connections), from /proc/net. */
export function establishedTo(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  let n = 0;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      // "sl local_address rem_address st …", addresses as HEXIP:HEXPORT; st 01 = ESTABLISHED.
      const [, local, , st] = line.trim().split(/\s+/);
      if (st === "01" && local?.endsWith(`:${hex}`)) n += 1;
    }
  }
  return n;
}
