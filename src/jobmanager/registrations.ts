// The leader's table of registered TaskManagers: one registration per TaskManager, found by TaskManager id or
// by registration id, each with the client that reaches it and a controller that ends every call in flight
// to it once the registration is over (dropped, replaced, or the session ended).
import type { TaskExecutorService } from "../generated/services.ts";

export type TaskExecutorClient = TaskExecutorService & { close(): void };

export interface Registration {
  readonly taskmanagerId: string;
  readonly registrationId: string;
  readonly address: string;
  readonly client: TaskExecutorClient;
  /** Aborted when the registration ends. */
  readonly ended: AbortController;
  lastHeartbeat: number;
}

export class Registrations {
  private readonly byTaskManager = new Map<string, Registration>();
  private readonly byRegistration = new Map<string, Registration>();

  add(r: Registration): void {
    this.byTaskManager.set(r.taskmanagerId, r);
    this.byRegistration.set(r.registrationId, r);
  }

  /** Ends the registration: calls in flight to it are aborted with `reason`, its client closed. */
  remove(r: Registration, reason: Error): void {
    if (this.byTaskManager.get(r.taskmanagerId) === r) this.byTaskManager.delete(r.taskmanagerId);
    this.byRegistration.delete(r.registrationId);
    r.ended.abort(reason);
    r.client.close();
  }

  /** The TaskManager's current registration. */
  of(taskmanagerId: string): Registration | undefined {
    return this.byTaskManager.get(taskmanagerId);
  }

  /** The registration a TaskManager names in a call, if it is still current. */
  named(taskmanagerId: string, registrationId: string): Registration | undefined {
    const r = this.byRegistration.get(registrationId);
    return r?.taskmanagerId === taskmanagerId ? r : undefined;
  }

  all(): Registration[] {
    return [...this.byTaskManager.values()];
  }

  /** Ends every registration. */
  clear(reason: Error): void {
    for (const r of this.all()) this.remove(r, reason);
  }
}
