// The drill loop: check the cluster, drill, wait, again, --kills times. The first check refuses to start on an
// unhealthy cluster; a later one that fails, or a drill that fails, ends the loop (the cluster would not be in
// a state worth measuring).
import { ClusterClient } from "../client/cluster-client.ts";
import { sleep } from "../common/clock.ts";
import { UnavailableError } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import type { HaConfig } from "../config/ha-config.ts";
import { runDrill } from "./failover.ts";
import { checkHealth } from "./health.ts";
import { LeaderWatch } from "./leader-watch.ts";
import { type DrillMode, type DrillResult, passed } from "./report.ts";

export interface DrillOptions {
  readonly ha: HaConfig;
  readonly kills: number;
  readonly mode: DrillMode;
  readonly intervalMs: number;
  readonly recoveryTimeoutMs: number;
  /** Where restarted JobManagers write their output. */
  readonly logDir: string;
  /** Bound of each call to the leader while checking the cluster. */
  readonly callTimeoutMs: number;
  readonly logger: Logger;
  /** Progress lines (stderr). */
  readonly progress: (line: string) => void;
  /** Each drill's result as soon as it is known. */
  readonly onDrill: (result: DrillResult) => void;
}

/**
 * Runs the drills; resolves with their results (fewer than --kills when one failed or the cluster was unhealthy
 * before a later one). Throws UnavailableError, before doing anything, when the cluster is unhealthy.
 */
export async function runDrills(options: DrillOptions, signal: AbortSignal): Promise<DrillResult[]> {
  const { ha, progress } = options;
  const watch = await LeaderWatch.open(ha, options.logger);
  const client = ClusterClient.viaHa(ha, options.logger);
  const results: DrillResult[] = [];
  try {
    for (let drill = 1; drill <= options.kills && !signal.aborted; drill++) {
      const health = await checkHealth(ha, watch, client, {
        needLaunch: options.mode !== "pause",
        callTimeoutMs: options.callTimeoutMs,
        signal,
      });
      if ("problems" in health) {
        if (drill === 1) {
          throw new UnavailableError(
            `refusing to drill cluster ${ha.clusterId}: ${health.problems.join("; ")}`,
          );
        }
        progress(`before drill ${drill} the cluster is not healthy; stopping:`);
        for (const p of health.problems) progress(`  - ${p}`);
        break;
      }
      const { leader, leaderProcess, jobmanagers, running, taskmanagers } = health.state;
      progress(
        `drill ${drill}/${options.kills}: leader ${leader.name} (epoch ${leader.epoch}, pid ${leaderProcess.pid}), ` +
          `${jobmanagers.length} JobManagers here, ${taskmanagers} TaskManagers, ` +
          `${running.length} job(s) RUNNING${running.length ? `: ${running.join(", ")}` : ""}`,
      );
      const result = await runDrill(drill, health.state, {
        watch,
        client,
        mode: options.mode,
        recoveryTimeoutMs: options.recoveryTimeoutMs,
        logDir: options.logDir,
        progress,
        signal,
      });
      results.push(result);
      options.onDrill(result);
      if (!passed(result)) break;
      if (drill < options.kills) {
        progress(`waiting ${options.intervalMs / 1000} s before the next drill`);
        await sleep(options.intervalMs, signal).catch(() => undefined);
      }
    }
  } finally {
    await client.close();
    await watch.close();
  }
  return results;
}
