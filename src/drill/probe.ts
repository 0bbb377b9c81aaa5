// Asking one JobManager directly (not through leader retrieval): whether a restarted one serves, and what a
// resumed one thinks of itself.
import { monotonicNow, sleep } from "../common/clock.ts";
import { UnavailableError } from "../common/errors.ts";
import type { LeaderAddress } from "../generated/records.ts";
import { DispatcherMethods, type DispatcherService } from "../generated/services.ts";
import { startTimeOf, stateOf } from "../local/proc.ts";
import { createClient } from "../rpc/client.ts";
import { connectHost, listeningSocketsOf } from "./proc-net.ts";

const POLL_MS = 100;

/** The JobManager at `address`'s GetLeader answer; rejects when it does not answer within `timeoutMs`. */
export async function askLeader(
  address: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<LeaderAddress> {
  const client = createClient<DispatcherService>(DispatcherMethods, address);
  try {
    return await client.getLeader({}, { timeoutMs, ...(signal && { signal }) });
  } finally {
    client.close();
  }
}

/** True while `pid` exists, is not a zombie, and (given `startTime`) is still that same process. */
export function isRunning(pid: number, startTime?: string): boolean {
  const state = stateOf(pid);
  if (state === undefined || state === "Z" || state === "X") return false;
  return startTime === undefined || startTimeOf(pid) === startTime;
}

/**
 * Resolves with the address at which `pid` answers GetLeader (it listens on a port and its RPC server is up).
 * Rejects with UnavailableError when it exits first or `deadline` (monotonic ms) passes; `what` names it.
 */
export async function waitServing(
  pid: number,
  deadline: number,
  what: string,
  signal?: AbortSignal,
): Promise<string> {
  let last = "it listens on no port yet";
  while (monotonicNow() < deadline) {
    signal?.throwIfAborted();
    if (!isRunning(pid)) throw new UnavailableError(`${what} exited before it served`);
    for (const socket of listeningSocketsOf(pid)) {
      const address = `${connectHost(socket.address)}:${socket.port}`;
      const left = Math.max(1, Math.min(1_000, deadline - monotonicNow()));
      try {
        await askLeader(address, left, signal);
        return address;
      } catch (e: unknown) {
        last = `GetLeader at ${address}: ${e instanceof Error ? e.message : String(e)}`;
      }
    }
    await sleep(POLL_MS, signal);
  }
  throw new UnavailableError(`${what} did not answer GetLeader in time (${last})`);
}

/** Resolves once `pid` (started at `startTime`) is gone or a zombie, or `deadline` passes; true when gone. */
export async function waitGone(
  pid: number,
  startTime: string | undefined,
  deadline: number,
): Promise<boolean> {
  while (isRunning(pid, startTime)) {
    if (monotonicNow() >= deadline) return false;
    await sleep(20);
  }
  return true;
}
