// Starting again the JobManager a drill stopped, as it was started, and waiting until it serves; unless
// something else (a supervisor) already started it again, in which case a second copy would only fight it
// for its port.
import { join } from "node:path";
import { monotonicNow } from "../common/clock.ts";
import type { ClusterState } from "./health.ts";
import { scanJobManagers } from "./jobmanagers.ts";
import { relaunch } from "./launch.ts";
import { waitServing } from "./probe.ts";
import type { Restart } from "./report.ts";

/** How long a restarted JobManager may take to answer GetLeader (a cold `node --import tsx` start included). */
const SERVE_TIMEOUT_MS = 30_000;

/** Where the restarted JobManager's output goes. */
export function restartLogPath(logDir: string, name: string, drill: number): string {
  return join(logDir, `${name.replace(/[^A-Za-z0-9._-]/g, "_")}.drill-${drill}.log`);
}

/** Restarts the leader of `state` (its process is gone); never throws: a failure is the Restart's error. */
export async function restartJobManager(
  state: ClusterState,
  drill: number,
  logDir: string,
  say: (line: string) => void,
): Promise<Restart> {
  const name = state.leader.name;
  const spec = state.leaderLaunch;
  const stoppedPid = state.leaderProcess.pid;
  const none = { name, stoppedPid, log: undefined, address: undefined };
  if (!spec)
    return {
      ...none,
      pid: undefined,
      error: `${name}: how it was started is unknown; start it again yourself`,
    };
  const known = new Set(state.jobmanagers.map((p) => p.pid));
  const other = scanJobManagers().find(
    (p) =>
      !known.has(p.pid) && p.argv.length === spec.argv.length && p.argv.every((a, i) => a === spec.argv[i]),
  );
  if (other) {
    say(`${name} was already started again as pid ${other.pid}, not by vigil drill; not starting another`);
    return { ...none, pid: other.pid, error: undefined };
  }
  const log = restartLogPath(logDir, name, drill);
  let pid: number | undefined;
  try {
    pid = await relaunch(spec, log);
    say(`restarted ${name} as pid ${pid} (log: ${log})`);
    const what = `the restarted ${name} (pid ${pid}, log ${log})`;
    const address = await waitServing(pid, monotonicNow() + SERVE_TIMEOUT_MS, what);
    say(`${name} (pid ${pid}) serves at ${address}`);
    return { name, stoppedPid, pid, log, address, error: undefined };
  } catch (e: unknown) {
    const error = `${(e as Error).message}; see its log ${log}`;
    return { name, stoppedPid, pid, log, address: undefined, error };
  }
}
