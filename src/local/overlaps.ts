// "No subtask ever runs on two TaskManagers at once", checked from the TaskManagers' own events: every
// execution runs from its `task-running` event to its `task-stopped` event (or, for a TaskManager that was
// killed, to the moment it was seen dead). Two executions of the same job, vertex and subtask must not overlap,
// on different TaskManagers or on the same one. Times are the events' `at` (wall-clock ms; one host).
import type { VigilEvent } from "./processes.ts";

export interface TaskManagerLog {
  readonly name: string;
  readonly events: readonly VigilEvent[];
  /** Wall-clock ms by which the process was known dead; undefined while it runs. */
  readonly exitedAt: number | undefined;
}

interface Run {
  readonly taskmanager: string;
  readonly execution: string;
  readonly start: number;
  readonly end: number;
}

/** Human-readable descriptions of every overlap found; empty when there is none. */
export function subtaskOverlaps(logs: readonly TaskManagerLog[]): string[] {
  const runs = new Map<string, Run[]>();
  for (const log of logs) {
    const open = new Map<string, { key: string; start: number }>();
    const close = (execution: string, end: number): void => {
      const o = open.get(execution);
      if (!o) return;
      open.delete(execution);
      const list = runs.get(o.key) ?? [];
      list.push({ taskmanager: log.name, execution, start: o.start, end });
      runs.set(o.key, list);
    };
    for (const e of log.events) {
      const execution = String(e["execution"]);
      if (e["event"] === "task-running") {
        open.set(execution, { key: `${e["job"]}/${e["vertex"]}/${e["subtask"]}`, start: at(e) });
      } else if (e["event"] === "task-stopped") close(execution, at(e));
    }
    for (const execution of [...open.keys()]) close(execution, log.exitedAt ?? Number.POSITIVE_INFINITY);
  }
  const found: string[] = [];
  for (const [key, list] of runs) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1]!;
      const next = list[i]!;
      if (next.start < prev.end) {
        found.push(
          `${key}: ${prev.execution} on ${prev.taskmanager} ran until ${prev.end} but ${next.execution} started on ${next.taskmanager} at ${next.start}`,
        );
      }
    }
  }
  return found;
}

function at(e: VigilEvent): number {
  const t = e["at"];
  if (typeof t !== "number") throw new Error(`event without a numeric "at" time: ${JSON.stringify(e)}`);
  return t;
}
