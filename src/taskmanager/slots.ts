// The TaskManager's slots: a fixed number of places, each holding at most one task until that task's code has
// really stopped. One slot per subtask (no slot sharing), so a slot is free again only after the stop, never
// when a cancel is merely requested: that is what keeps a subtask from running twice on one TaskManager.
import { AlreadyExistsError, InvalidArgumentError } from "../common/errors.ts";

export class SlotTable {
  private readonly holders: Array<string | undefined>;

  /** @param owner names the TaskManager in error messages. */
  constructor(
    readonly size: number,
    private readonly owner: string,
  ) {
    this.holders = new Array<string | undefined>(size).fill(undefined);
  }

  get free(): number {
    return this.holders.filter((h) => h === undefined).length;
  }

  /** The execution holding slot `index`, if any. */
  holder(index: number): string | undefined {
    return this.holders[index];
  }

  /**
   * Gives slot `index` to `executionId`. InvalidArgumentError when the index is out of range;
   * AlreadyExistsError (naming the holder) when another execution holds it.
   */
  reserve(index: number, executionId: string): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) {
      throw new InvalidArgumentError(
        `${executionId}: slot ${index} does not exist on taskmanager ${this.owner}, which has ${this.size} slot(s) numbered 0..${this.size - 1}`,
      );
    }
    const holder = this.holders[index];
    if (holder !== undefined && holder !== executionId) {
      throw new AlreadyExistsError(
        `slot ${index} of taskmanager ${this.owner} (held by ${holder}; deploy to a free slot or cancel it first)`,
      );
    }
    this.holders[index] = executionId;
  }

  /** Frees slot `index` if `executionId` holds it. */
  release(index: number, executionId: string): void {
    if (this.holders[index] === executionId) this.holders[index] = undefined;
  }
}
