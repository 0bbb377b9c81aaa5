// The leader's view of the registered TaskManagers' slots: which execution holds which slot, and the last
// state each execution's TaskManager reported. One slot per subtask (no slot sharing). A slot is free again
// once its execution reached a terminal state, or when its TaskManager is gone.
import type { ExecutionState, TaskStatus } from "../generated/records.ts";

/** Hears the state changes of one execution, forward only, ending with exactly one terminal state. */
export type ExecutionObserver = (status: TaskStatus) => void;

export interface SlotRequest {
  readonly executionId: string;
  readonly observer: ExecutionObserver;
}

export interface Placement {
  readonly executionId: string;
  readonly taskmanagerId: string;
  readonly registrationId: string;
  readonly slot: number;
}

interface Held extends Placement {
  readonly observer: ExecutionObserver;
  state: ExecutionState;
  records: bigint;
}

interface Owner {
  readonly registrationId: string;
  readonly slots: Array<string | undefined>;
}

const ORDER: Record<ExecutionState, number> = {
  EXECUTION_STATE_UNSPECIFIED: 0,
  EXECUTION_STATE_DEPLOYING: 1,
  EXECUTION_STATE_RUNNING: 2,
  EXECUTION_STATE_CANCELING: 3,
  EXECUTION_STATE_FINISHED: 4,
  EXECUTION_STATE_CANCELED: 4,
  EXECUTION_STATE_FAILED: 4,
};

export function isTerminal(state: ExecutionState): boolean {
  return ORDER[state] === 4;
}

export class SlotPool {
  private readonly owners = new Map<string, Owner>();
  private readonly held = new Map<string, Held>();

  addTaskManager(taskmanagerId: string, registrationId: string, slots: number): void {
    this.owners.set(taskmanagerId, {
      registrationId,
      slots: new Array<string | undefined>(slots).fill(undefined),
    });
  }

  /** Forgets a TaskManager; every execution it held ends FAILED with `error`, and its observer hears it. */
  removeTaskManager(taskmanagerId: string, error: string): void {
    const owner = this.owners.get(taskmanagerId);
    if (!owner) return;
    this.owners.delete(taskmanagerId);
    for (const executionId of owner.slots) {
      const h = executionId === undefined ? undefined : this.held.get(executionId);
      if (!h) continue;
      this.held.delete(h.executionId);
      h.observer({ executionId: h.executionId, state: "EXECUTION_STATE_FAILED", records: h.records, error });
    }
  }

  freeSlots(): number {
    let free = 0;
    for (const owner of this.owners.values()) free += owner.slots.filter((s) => s === undefined).length;
    return free;
  }

  /** Slots and free slots of one TaskManager. */
  slotsOf(taskmanagerId: string): { slots: number; free: number } {
    const slots = this.owners.get(taskmanagerId)?.slots ?? [];
    return { slots: slots.length, free: slots.filter((s) => s === undefined).length };
  }

  /**
   * Places every request or none: undefined when there are fewer free slots than requests. Spreads the
   * executions over the TaskManagers with the most free slots (a restart after a lost TaskManager lands on
   * the others).
   */
  allocate(requests: readonly SlotRequest[]): Placement[] | undefined {
    if (requests.length > this.freeSlots()) return undefined;
    const free = [...this.owners].map(([id, owner]) => ({
      id,
      owner,
      indexes: owner.slots.flatMap((s, i) => (s === undefined ? [i] : [])),
    }));
    return requests.map((request) => {
      const target = free.reduce((best, c) =>
        c.indexes.length > best.indexes.length || (c.indexes.length === best.indexes.length && c.id < best.id)
          ? c
          : best,
      );
      const slot = target.indexes.shift()!;
      target.owner.slots[slot] = request.executionId;
      const held: Held = {
        executionId: request.executionId,
        taskmanagerId: target.id,
        registrationId: target.owner.registrationId,
        slot,
        observer: request.observer,
        state: "EXECUTION_STATE_DEPLOYING",
        records: 0n,
      };
      this.held.set(request.executionId, held);
      return held;
    });
  }

  /** The execution's placement while it holds its slot. */
  placement(executionId: string): Placement | undefined {
    return this.held.get(executionId);
  }

  /**
   * A state the TaskManager of `registrationId` reported. Forwards progress to the observer; ignores reports
   * about executions placed elsewhere and states older than the known one. True when a slot became free.
   */
  report(registrationId: string, status: TaskStatus): boolean {
    const h = this.held.get(status.executionId);
    if (!h || h.registrationId !== registrationId) return false;
    if (ORDER[status.state] < ORDER[h.state]) return false;
    if (status.state === h.state && status.records === h.records) return false;
    h.state = status.state;
    h.records = status.records;
    const freed = isTerminal(status.state);
    if (freed) {
      this.held.delete(h.executionId);
      const owner = this.owners.get(h.taskmanagerId);
      if (owner?.slots[h.slot] === h.executionId) owner.slots[h.slot] = undefined;
    }
    h.observer(status);
    return freed;
  }

  /** Forgets everything without telling anyone (the leader session ended). */
  clear(): void {
    this.owners.clear();
    this.held.clear();
  }
}
