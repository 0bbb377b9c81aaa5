// Who leads right now, as far as the JobManagers' own event lines tell: the nemesis needs a victim, and it
// must not trust any one process's opinion of itself. Epochs are monotonic across leaders, so the highest
// epoch ever published wins; its holder leads only while it lives and has not revoked that epoch.
import type { VigilEvent } from "../../src/local/processes.ts";

export interface JobManagerView {
  readonly name: string;
  /** False once its process has exited. */
  readonly alive: boolean;
  readonly events: readonly VigilEvent[];
}

export interface LeaderOf<T> {
  readonly jobmanager: T;
  readonly epoch: bigint;
}

/**
 * The JobManager holding the highest epoch published by any JobManager (dead ones included: a live one with a
 * lower epoch is deposed), or undefined when that holder has exited or revoked it, or nobody published yet.
 */
export function currentLeader<T extends JobManagerView>(jobmanagers: readonly T[]): LeaderOf<T> | undefined {
  let top: { jm: T; epoch: bigint; revoked: boolean } | undefined;
  for (const jm of jobmanagers) {
    const revoked = new Set<bigint>();
    let published: bigint | undefined;
    for (const e of jm.events) {
      const epoch = epochOf(e);
      if (epoch === undefined) continue;
      if (e["event"] === "published" && (published === undefined || epoch > published)) published = epoch;
      else if (e["event"] === "revoked") revoked.add(epoch);
    }
    if (published !== undefined && (top === undefined || published > top.epoch)) {
      top = { jm, epoch: published, revoked: revoked.has(published) };
    }
  }
  if (!top || top.revoked || !top.jm.alive) return undefined;
  return { jobmanager: top.jm, epoch: top.epoch };
}

/** The event's `epoch` (a decimal string or number), or undefined when it has none. */
export function epochOf(e: VigilEvent): bigint | undefined {
  const v = e["epoch"];
  if (typeof v === "string" && /^\d+$/.test(v)) return BigInt(v);
  if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === "bigint") return v;
  return undefined;
}
