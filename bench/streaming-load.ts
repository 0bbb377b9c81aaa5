// How much CPU the rest of the machine took during a window: all busy time from /proc/stat minus the CPU of the
// processes under measurement. On this shared 2-core machine other sessions' test suites come and go; a window
// whose throughput dips while this number rises was slowed by them, not by what it measured.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { cpuMsOf, ownCpuMs } from "./proc-stats.ts";

/** Busy CPU time of the whole machine in ms (user, nice, system, irq, softirq, steal), from /proc/stat. */
function machineBusyMs(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  // USER_HZ is 100 on every common Linux (proc-stats.ts asks getconf for per-process times; same unit).
  const ticks = [user, nice, system, irq, softirq, steal].reduce<number>((a, b) => a + (b ?? 0), 0);
  return ticks * 10;
}

/**
 * Starts a window; the returned function ends it and gives the other processes' CPU over it as a percentage
 * of one core (this process and `pids` excluded). Tick resolution: ±10 ms per process over the window.
 */
export function otherCpuWindow(pids: readonly number[]): () => number {
  const ours = (): number => ownCpuMs() + pids.reduce((n, pid) => n + cpuMsOf(pid), 0);
  const busy0 = machineBusyMs();
  const ours0 = ours();
  const t0 = performance.now();
  return () => {
    const wall = performance.now() - t0;
    const others = machineBusyMs() - busy0 - (ours() - ours0);
    return wall > 0 ? Math.max(0, (100 * others) / wall) : 0;
  };
}
