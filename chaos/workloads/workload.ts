// A workload (Jepsen's client + generator + checker) runs against the cluster while the nemesis works: its
// generator says what the clients do, `perform` does one operation through the cluster client and says what
// came of it (ok, fail, or info when the outcome is unknown), and `finish` reads what the checkers need once
// the last fault is healed. Workloads never throw from perform: every error is an outcome.
import type { ClusterClient } from "../../src/client/cluster-client.ts";
import { ConnectionLostError } from "../../src/rpc/errors.ts";
import { describeCause, VigilError } from "../../src/common/errors.ts";
import type { Generator } from "../generator.ts";
import type { Random } from "../random.ts";
import type { KeyedCountOutcome } from "../types.ts";

export interface WorkloadContext {
  /** Finds the leader through the HA backend; follows redirects. */
  readonly client: ClusterClient;
  /** A directory of the run's own (outputs). */
  readonly scratch: string;
  readonly random: Random;
  readonly signal: AbortSignal;
  /** Progress lines for the terminal. */
  readonly progress: (line: string) => void;
}

export interface Completion {
  readonly type: "ok" | "fail" | "info";
  readonly value?: unknown;
  readonly error?: string;
}

export interface WorkloadFinish {
  readonly outputs: Readonly<Record<string, KeyedCountOutcome>>;
}

export interface Workload {
  readonly name: string;
  readonly description: string;
  /** Concurrent client processes. */
  readonly clients: number;
  /** 0 when its jobs take no checkpoints. */
  readonly checkpointIntervalMs: number;
  /** Slots each TaskManager needs for this workload. */
  readonly slotsPerTaskManager: number;
  /** Before the clients start: build what the operations send (e.g. compile an application). */
  prepare?(ctx: WorkloadContext, timeLimitMs: number): Promise<void>;
  /** The clients' operations until the time limit (the runner adds the limit). */
  generator(timeLimitMs: number): Generator;
  /** Runs one operation; never throws. */
  perform(op: { readonly f: string; readonly value?: unknown }, ctx: WorkloadContext): Promise<Completion>;
  /** After the final heal: lets the workload's jobs settle (bounded) and reads what the checkers need. */
  finish(ctx: WorkloadContext, boundMs: number): Promise<WorkloadFinish>;
}

/** Client call timeout: long enough to ride out a failover (TTL + recovery). */
export const CALL_TIMEOUT_MS = 10_000;

/** A write's error as an outcome: unknown when it may have happened, failed when it surely did not. */
export function writeOutcome(e: unknown): Completion {
  const error = describeCause(e);
  if (e instanceof ConnectionLostError) return { type: "info", error };
  if (e instanceof VigilError) {
    if (["DEADLINE_EXCEEDED", "POSSIBLY_INCONSISTENT", "CANCELLED", "LIFECYCLE"].includes(e.code)) {
      return { type: "info", error };
    }
    // No JobManager leader took it, or it was refused: nothing was done.
    return { type: "fail", error };
  }
  return { type: "info", error };
}

/** A read that did not answer changed nothing. */
export function readOutcome(e: unknown): Completion {
  return { type: "fail", error: describeCause(e) };
}
