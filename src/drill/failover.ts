// One drill: fail the leader's process, measure how long until a leader with a higher epoch is published and
// until every job that ran runs again under it, then undo what was done to the process (SIGCONT, or a
// restart with the argv, cwd and environment it had). The undo runs whatever happened before it.
import type { ClusterClient } from "../client/cluster-client.ts";
import { stateName } from "../cli/job-format.ts";
import { monotonicNow, sleep } from "../common/clock.ts";
import { killQuietly } from "../local/proc.ts";
import type { ClusterState } from "./health.ts";
import type { LeaderWatch, Sighting } from "./leader-watch.ts";
import { askLeader, isRunning, waitGone } from "./probe.ts";
import type { DrillMode, DrillResult, LeaderView, Restart } from "./report.ts";
import { restartJobManager } from "./restart.ts";

export interface DrillContext {
  readonly watch: LeaderWatch;
  readonly client: ClusterClient;
  readonly mode: DrillMode;
  readonly recoveryTimeoutMs: number;
  readonly logDir: string;
  readonly progress: (line: string) => void;
  /** Aborted on Ctrl-C: the drill stops waiting, and still undoes what it did. */
  readonly signal: AbortSignal;
}

const SIGNAL: Record<DrillMode, NodeJS.Signals> = { kill: "SIGKILL", pause: "SIGSTOP", graceful: "SIGTERM" };
const JOBS_POLL_MS = 25;
/** How long a resumed leader may take to notice that it was deposed. */
const STEP_DOWN_MS = 5_000;
/** How long a SIGKILLed process may take to vanish. */
const KILL_GONE_MS = 5_000;

export async function runDrill(drill: number, state: ClusterState, ctx: DrillContext): Promise<DrillResult> {
  const { watch, mode, signal } = ctx;
  const old = state.leader;
  const victim = state.leaderProcess;
  const say = (line: string): void => ctx.progress(`drill ${drill}: ${line}`);
  const base = {
    drill,
    mode,
    oldLeader: { name: old.name, epoch: old.epoch, address: old.address, pid: victim.pid },
    jobs: state.running,
  };
  const refused = (problem: string): DrillResult => ({
    ...base,
    recovered: false,
    newLeader: undefined,
    timeToNewLeaderMs: undefined,
    timeToJobsRunningMs: undefined,
    restarted: [],
    problems: [problem],
    lastSeen: [],
  });
  if (!isRunning(victim.pid, victim.startTime)) {
    return refused(`the leader's process ${victim.pid} exited before the drill began; nothing was done`);
  }
  const problems: string[] = [];
  const restarted: Restart[] = [];
  let lastJobs: string | undefined;
  let ended: Sighting | undefined;
  let seen: Sighting | undefined;
  let jobs: { at: number; epoch: bigint } | undefined;
  let paused = mode === "pause";
  const resume = (): void => {
    if (!paused) return;
    paused = false;
    killQuietly(victim.pid, "SIGCONT");
    say(`SIGCONT to ${victim.pid}`);
  };
  say(`${SIGNAL[mode]} to leader ${old.name} (epoch ${old.epoch}, pid ${victim.pid})`);
  const t0 = monotonicNow();
  const deadline = t0 + ctx.recoveryTimeoutMs;
  try {
    killQuietly(victim.pid, SIGNAL[mode]);
  } catch (e: unknown) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    return refused(
      `cannot send ${SIGNAL[mode]} to pid ${victim.pid} (${code}); run vigil drill as the JobManagers' user or as root`,
    );
  }
  try {
    seen = await watch.waitFor((l) => l !== undefined && l.epoch > old.epoch, t0, deadline, signal);
    if (seen?.leader)
      say(`new leader ${seen.leader.name} (epoch ${seen.leader.epoch}) after ${ms(seen.at - t0)}`);
    resume();
    if (seen) {
      jobs = await waitJobsRunning(ctx, state.running, old.epoch, deadline, (text) => {
        lastJobs = text;
      });
      if (jobs)
        say(`${state.running.length} job(s) RUNNING under epoch ${jobs.epoch} after ${ms(jobs.at - t0)}`);
    }
    if (mode === "pause" && seen) {
      const until = Math.max(deadline, monotonicNow() + STEP_DOWN_MS);
      const check = await steppedDown(victim.pid, old, until, signal);
      if (check.ok) say(`the resumed ${old.name} (pid ${victim.pid}) stepped down: ${check.detail}`);
      else
        problems.push(
          `the paused leader (pid ${victim.pid}) did not step down after SIGCONT: ${check.detail}`,
        );
    }
  } finally {
    ended = { leader: watch.current, at: monotonicNow() };
    resume();
    if (mode !== "pause") {
      const bound = mode === "kill" ? KILL_GONE_MS : ctx.recoveryTimeoutMs;
      if (!(await waitGone(victim.pid, victim.startTime, monotonicNow() + bound))) {
        problems.push(
          `the leader's process ${victim.pid} did not exit within ${ms(bound)} of ${SIGNAL[mode]}; SIGKILLed it`,
        );
        killQuietly(victim.pid, "SIGKILL");
        await waitGone(victim.pid, victim.startTime, monotonicNow() + KILL_GONE_MS);
      }
      const restart = await restartJobManager(state, drill, ctx.logDir, say);
      restarted.push(restart);
      if (restart.error !== undefined) problems.push(restart.error);
    }
  }
  const recovered = seen !== undefined && jobs !== undefined;
  const within = `within --recovery-timeout ${ctx.recoveryTimeoutMs / 1000} s`;
  if (!recovered && signal.aborted) problems.unshift("interrupted before it recovered");
  else if (!seen) problems.unshift(`no leader with an epoch above ${old.epoch} was published ${within}`);
  else if (!jobs) {
    const ran = state.running.join(", ");
    problems.unshift(`not every job that ran (${ran}) ran again under the new leader ${within}`);
  }
  const newLeader: LeaderView | undefined = seen?.leader && {
    name: seen.leader.name,
    epoch: seen.leader.epoch,
    address: seen.leader.address,
  };
  return {
    ...base,
    recovered,
    newLeader,
    timeToNewLeaderMs: seen && Math.round(seen.at - t0),
    timeToJobsRunningMs: jobs && Math.round(jobs.at - t0),
    restarted,
    problems,
    lastSeen: recovered ? [] : lastSeen(watch.since(t0), ended, t0, lastJobs),
  };
}

/**
 * Polls the job listing (through the published leader) until it is answered under the published epoch, above
 * `oldEpoch`, with every job of `running` RUNNING; undefined at the deadline. `report` gets each answer.
 */
async function waitJobsRunning(
  ctx: DrillContext,
  running: readonly string[],
  oldEpoch: bigint,
  deadline: number,
  report: (text: string) => void,
): Promise<{ at: number; epoch: bigint } | undefined> {
  while (monotonicNow() < deadline && !ctx.signal.aborted) {
    const timeoutMs = Math.max(1, Math.min(2_000, deadline - monotonicNow()));
    try {
      const answer = await ctx.client.listJobs({}, { timeoutMs, signal: ctx.signal });
      const at = monotonicNow();
      const states = new Map(answer.jobs.map((j) => [j.jobId, stateName(j.state)]));
      const listed = running.map((id) => `${id} ${states.get(id) ?? "missing"}`).join(", ");
      report(`job listing of epoch ${answer.epoch}: ${listed || "no jobs to wait for"}`);
      const current = ctx.watch.current?.epoch === answer.epoch;
      if (answer.epoch > oldEpoch && current && running.every((id) => states.get(id) === "RUNNING")) {
        return { at, epoch: answer.epoch };
      }
    } catch (e: unknown) {
      report(`job listing failed: ${(e as Error).message}`);
    }
    await sleep(JOBS_POLL_MS, ctx.signal).catch(() => undefined);
  }
  return undefined;
}

/** Whether the resumed `pid` stopped calling itself leader of `old`'s epoch before `until`, and what it said. */
async function steppedDown(
  pid: number,
  old: { readonly name: string; readonly epoch: bigint; readonly address: string },
  until: number,
  signal: AbortSignal,
): Promise<{ ok: boolean; detail: string }> {
  let detail = `pid ${pid} did not answer GetLeader`;
  while (monotonicNow() < until && !signal.aborted) {
    try {
      const left = Math.max(1, Math.min(1_000, until - monotonicNow()));
      const answer = await askLeader(old.address, left, signal);
      if (answer.name !== old.name || answer.epoch !== old.epoch) {
        const named = answer.address ? `${answer.name} (epoch ${answer.epoch})` : "no leader";
        return { ok: true, detail: `it names ${named} as leader` };
      }
      detail = `it still answers GetLeader as leader of epoch ${old.epoch}`;
    } catch (e: unknown) {
      detail = `GetLeader: ${(e as Error).message}`;
    }
    await sleep(50, signal).catch(() => undefined);
  }
  return { ok: false, detail };
}

/** The leader changes after the signal, the leader when the drill stopped waiting, and the last job listing. */
function lastSeen(
  changes: readonly Sighting[],
  ended: Sighting,
  t0: number,
  jobs: string | undefined,
): string[] {
  const who = (s: Sighting): string =>
    s.leader ? `${s.leader.name} (epoch ${s.leader.epoch}) at ${s.leader.address}` : "no leader";
  return [
    ...changes.filter((s) => s.at <= ended.at).map((s) => `+${ms(s.at - t0)}: retrieval reported ${who(s)}`),
    `+${ms(ended.at - t0)}: gave up; published then: ${who(ended)}`,
    ...(jobs !== undefined ? [`last job listing: ${jobs}`] : []),
  ];
}

function ms(v: number): string {
  return `${Math.round(v)} ms`;
}
