// The checks a leader's command passes at the TaskExecutor before it touches a task. The epoch fence refuses a
// deposed leader (every command); the registration fence refuses a deploy that does not come from the
// registration whose lease currently holds, since only that lease promises that the leader's tasks are dead
// once it runs out. Every refusal, for whatever reason, is evidence the chaos checkers read: a warning and the
// event command-rejected with the refused epoch and the highest one seen.
import { describeCause } from "../common/errors.ts";
import type { VigilEvent } from "../common/events.ts";
import type { Logger } from "../common/logger.ts";
import type { DeployTaskRequest } from "../generated/records.ts";
import type { EpochFence } from "./epoch-fence.ts";
import { type Registration, RegistrationFenceError } from "./registration.ts";

export type Command = "deploy" | "cancel" | "checkpoint";

export interface CommandFenceOptions {
  /** This TaskManager's id, for messages. */
  readonly id: string;
  readonly fence: EpochFence;
  /** The registration whose lease currently holds; undefined when none does. */
  readonly registration: () => Registration | undefined;
  readonly logger: Logger;
  /** Never throws. */
  readonly emit: (event: VigilEvent) => void;
}

export class CommandFence {
  constructor(private readonly options: CommandFenceOptions) {}

  /** Throws (and reports) the fence's StaleEpochError when `epoch` is lower than the highest seen. */
  checkEpoch(command: Command, execution: string, epoch: bigint, what: string): void {
    try {
      this.options.fence.check(epoch, what);
    } catch (e: unknown) {
      this.reject(command, execution, epoch, "stale-epoch", describeCause(e));
      throw e;
    }
  }

  /** True when the deploy carries the epoch and registration id of the current registration. */
  fromCurrentRegistration(request: DeployTaskRequest): boolean {
    const current = this.options.registration();
    return current?.epoch === request.epoch && current.registrationId === request.registrationId;
  }

  /** Throws (and reports) RegistrationFenceError, saying why, unless the deploy is from the current registration. */
  checkRegistration(request: DeployTaskRequest, execution: string, what: string): void {
    if (this.fromCurrentRegistration(request)) return;
    const current = this.options.registration();
    const me = `taskmanager ${this.options.id}`;
    const [reason, detail] = !current
      ? ["not-registered", `${me} is not registered with any leader now (it is registering)`]
      : current.epoch !== request.epoch
        ? [
            "not-registered",
            `${me} is not registered with the leader of epoch ${request.epoch} (its registration is with epoch ${current.epoch}); it registers with the newest leader it learns of`,
          ]
        : [
            "registration-mismatch",
            `registration ${JSON.stringify(request.registrationId)} is not the current registration ${JSON.stringify(current.registrationId)} of ${me}`,
          ];
    this.reject("deploy", execution, request.epoch, reason, detail);
    throw new RegistrationFenceError(request.epoch, request.registrationId, what, detail);
  }

  /** Reports a refused command (a warning and the event command-rejected); the caller throws. */
  reject(command: Command, execution: string, epoch: bigint, reason: string, message: string): void {
    const highest = this.options.fence.highest;
    this.options.logger.warn(`refused ${command} ${execution}: ${message}`, { epoch, highest });
    this.options.emit({ event: "command-rejected", command, execution, epoch, highest, reason });
  }
}
