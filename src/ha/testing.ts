// Test helpers shared by unit tests and the ha-tests suites (no test framework imports here).
import { sleep } from "../common/clock.ts";
import type { LeaderContender, LeaderElectionService } from "./leader-election-service.ts";
import type { LeaderSession } from "./leader-session.ts";

export interface ContenderEvent {
  readonly type: "granted" | "revoked";
  readonly epoch: bigint;
  readonly reason?: string;
}

/** A contender that records its events and confirms every grant (unless autoConfirm is false). */
export class RecordingContender implements LeaderContender {
  readonly events: ContenderEvent[] = [];
  readonly errors: Error[] = [];
  session: LeaderSession | undefined;
  autoConfirm = true;

  constructor(
    private readonly service: LeaderElectionService,
    readonly name: string,
    private readonly address: string,
  ) {}

  get leading(): boolean {
    return this.session?.isValid() === true;
  }

  async grantLeadership(session: LeaderSession): Promise<void> {
    this.session = session;
    this.events.push({ type: "granted", epoch: session.epoch });
    if (this.autoConfirm) await this.service.confirmLeadership(session, this.address);
  }

  revokeLeadership(session: LeaderSession, reason: string): void {
    if (this.session === session) this.session = undefined;
    this.events.push({ type: "revoked", epoch: session.epoch, reason });
  }

  handleError(error: Error): void {
    this.errors.push(error);
  }
}

/** Polls `condition` every 5 ms until it holds; rejects after `timeoutMs` naming what it waited for. */
export async function waitUntil(
  condition: () => boolean,
  timeoutMs = 1_000,
  what = condition.toString(),
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}
