// A LeaderElectionListener for driver tests: records every callback with its monotonic time, and publishes
// the leader information on grant as the service would.
import { monotonicNow } from "../../src/common/clock.ts";
import type {
  LeaderElectionDriver,
  LeaderElectionListener,
  LeaderInfo,
} from "../../src/ha/election-driver.ts";
import type { LeaderSession } from "../../src/ha/leader-session.ts";

export type DriverEvent =
  | { readonly type: "granted"; readonly at: number; readonly session: LeaderSession }
  | { readonly type: "revoked"; readonly at: number; readonly epoch: bigint; readonly reason: string }
  | { readonly type: "info"; readonly at: number; readonly info: LeaderInfo | undefined }
  | { readonly type: "error"; readonly at: number; readonly error: Error };

export class DriverRecorder implements LeaderElectionListener {
  readonly events: DriverEvent[] = [];
  session: LeaderSession | undefined;
  constructor(
    readonly name: string,
    readonly driver: LeaderElectionDriver,
    private readonly publish = true,
  ) {}
  get leading(): boolean {
    return this.session?.isValid() ?? false;
  }
  of<T extends DriverEvent["type"]>(type: T): Array<Extract<DriverEvent, { type: T }>> {
    return this.events.filter((e): e is Extract<DriverEvent, { type: T }> => e.type === type);
  }
  onGrantLeadership(session: LeaderSession): void {
    this.session = session;
    this.events.push({ type: "granted", at: monotonicNow(), session });
    if (this.publish) {
      this.driver
        .publishLeaderInformation(session, { name: this.name, address: `${this.name}.example:7000` })
        .catch((e: unknown) => this.onError(e as Error));
    }
  }
  onRevokeLeadership(session: LeaderSession, reason: string): void {
    if (this.session === session) this.session = undefined;
    this.events.push({ type: "revoked", at: monotonicNow(), epoch: session.epoch, reason });
  }
  onLeaderInformationChange(info: LeaderInfo | undefined): void {
    this.events.push({ type: "info", at: monotonicNow(), info });
  }
  onError(error: Error): void {
    this.events.push({ type: "error", at: monotonicNow(), error });
  }
}
