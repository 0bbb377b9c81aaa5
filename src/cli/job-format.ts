// How the client commands show jobs, TaskManagers and the leader: one JSON shape (states without their enum
// prefix, bigints as decimal strings through jsonLine) and plain-text tables for people.
import type {
  ClusterOverview,
  JobState,
  JobSummary,
  LeaderAddress,
  TaskManagerSummary,
} from "../generated/records.ts";

/** "JOB_STATE_RUNNING" → "RUNNING", as in the job-state events. */
export function stateName(state: JobState): string {
  return state.replace(/^JOB_STATE_/, "");
}

export interface JobJson {
  readonly id: string;
  readonly name: string;
  readonly state: string;
  readonly tasks: number;
  readonly runningTasks: number;
  readonly restarts: number;
  readonly submittedAtMs: bigint;
  /** Why it failed or last restarted; absent otherwise. */
  readonly error?: string;
}

export function jobJson(job: JobSummary): JobJson {
  return {
    id: job.jobId,
    name: job.name,
    state: stateName(job.state),
    tasks: job.tasks,
    runningTasks: job.runningTasks,
    restarts: job.restarts,
    submittedAtMs: job.submittedAtMs,
    ...(job.error !== "" ? { error: job.error } : {}),
  };
}

export interface OverviewJson {
  /** null when no leader is known. */
  readonly leader: { readonly name: string; readonly address: string; readonly epoch: bigint } | null;
  readonly taskmanagers: readonly TaskManagerSummary[];
  readonly jobs: readonly JobJson[];
}

export function overviewJson(overview: ClusterOverview): OverviewJson {
  return {
    leader: leaderJson(overview.leader),
    taskmanagers: overview.taskmanagers.map((t) => ({
      id: t.id,
      address: t.address,
      slots: t.slots,
      freeSlots: t.freeSlots,
    })),
    jobs: overview.jobs.map(jobJson),
  };
}

function leaderJson(leader: LeaderAddress | undefined): OverviewJson["leader"] {
  if (!leader || (leader.address === "" && leader.epoch === 0n)) return null;
  return { name: leader.name, address: leader.address, epoch: leader.epoch };
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [header, ...rows].map(line).join("\n") + "\n";
}

export function jobsTable(jobs: readonly JobSummary[]): string {
  if (jobs.length === 0) return "no jobs\n";
  return table(
    ["JOB ID", "NAME", "STATE", "TASKS", "RESTARTS"],
    jobs.map((j) => [
      j.jobId,
      j.name,
      stateName(j.state),
      `${j.runningTasks}/${j.tasks}`,
      String(j.restarts),
    ]),
  );
}

export function overviewText(overview: ClusterOverview): string {
  const leader = leaderJson(overview.leader);
  const tms = overview.taskmanagers;
  const slots = tms.reduce((n, t) => n + t.slots, 0);
  const free = tms.reduce((n, t) => n + t.freeSlots, 0);
  const lines = [
    leader ? `leader: ${leader.name} at ${leader.address} (epoch ${leader.epoch})` : "leader: none known",
    `taskmanagers: ${tms.length}, ${free} of ${slots} slots free`,
  ];
  let text = lines.join("\n") + "\n";
  if (tms.length > 0) {
    text += indent(
      table(
        ["ID", "ADDRESS", "SLOTS", "FREE"],
        tms.map((t) => [t.id, t.address, String(t.slots), String(t.freeSlots)]),
      ),
    );
  }
  text += `jobs: ${overview.jobs.length}\n`;
  if (overview.jobs.length > 0) text += indent(jobsTable(overview.jobs));
  return text;
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => (l === "" ? l : `  ${l}`))
    .join("\n");
}
