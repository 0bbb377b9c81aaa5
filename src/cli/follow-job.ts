// Following a job until it ends (vigil run without --detached): getJob every half second through leader
// changes. A failed poll is not the job's failure: the cluster may be between leaders, or the new leader may
// not have recovered the job yet, so polling goes on until answers have been missing for `patienceMs`.
import { monotonicNow, sleep } from "../common/clock.ts";
import { describeCause, UnavailableError } from "../common/errors.ts";
import type { JobDetails, JobState } from "../generated/records.ts";
import type { CallOptions } from "../rpc/call.ts";
import { stateName } from "./job-format.ts";

export const FOLLOW_INTERVAL_MS = 500;
/** How long the job may be out of sight (no leader, or not recovered yet) before following gives up. */
export const FOLLOW_PATIENCE_MS = 120_000;

const TERMINAL: ReadonlySet<JobState> = new Set<JobState>([
  "JOB_STATE_FINISHED",
  "JOB_STATE_FAILED",
  "JOB_STATE_CANCELED",
]);

export function isTerminal(state: JobState): boolean {
  return TERMINAL.has(state);
}

export interface FollowOptions {
  readonly getJob: (jobId: string, options: CallOptions) => Promise<JobDetails>;
  /** Every answer, and every failed poll (as `problem`). */
  readonly onPoll: (poll: { details: JobDetails } | { problem: string }) => void;
  readonly signal: AbortSignal;
  readonly intervalMs?: number;
  readonly patienceMs?: number;
}

/** The job's details once it is FINISHED, FAILED or CANCELED; rejects when `signal` aborts or patience ends. */
export async function followJob(jobId: string, options: FollowOptions): Promise<JobDetails> {
  const intervalMs = options.intervalMs ?? FOLLOW_INTERVAL_MS;
  const patienceMs = options.patienceMs ?? FOLLOW_PATIENCE_MS;
  const { signal } = options;
  let lastSeen = monotonicNow();
  let problem = "";
  for (;;) {
    signal.throwIfAborted();
    try {
      const left = Math.max(1, lastSeen + patienceMs - monotonicNow());
      const details = await options.getJob(jobId, { signal, timeoutMs: Math.min(left, 10_000) });
      lastSeen = monotonicNow();
      options.onPoll({ details });
      if (details.summary !== undefined && isTerminal(details.summary.state)) return details;
    } catch (e: unknown) {
      signal.throwIfAborted();
      problem = describeCause(e);
      options.onPoll({ problem });
      if (monotonicNow() - lastSeen >= patienceMs) {
        throw new UnavailableError(
          `job ${jobId}: no answer about it for ${Math.round(patienceMs / 1000)} s (last: ${problem}); it may still be running: check with vigil list`,
        );
      }
    }
    await sleep(intervalMs, signal);
  }
}

/** "RUNNING: 4/4 tasks running, 12345 records" */
export function progressLine(details: JobDetails): string {
  const summary = details.summary;
  if (summary === undefined) return "no summary";
  let records = 0n;
  for (const t of details.tasks) records += t.records;
  return `${stateName(summary.state)}: ${summary.runningTasks}/${summary.tasks} tasks running, ${records} records${summary.restarts > 0 ? `, ${summary.restarts} restarts` : ""}`;
}
