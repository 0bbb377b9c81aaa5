// The workers' fencing layer (DESIGN.md §2, layer 2): a TaskManager remembers the highest leader epoch it has
// seen and refuses any command of a lower one, because its sender has been deposed.
import { StaleEpochError } from "../common/errors.ts";

export class EpochFence {
  private highestSeen = 0n;

  /** The highest epoch seen so far; 0n before any. */
  get highest(): bigint {
    return this.highestSeen;
  }

  /** Raises the highest seen epoch to `epoch`; true when it was higher than any seen before. Never lowers it. */
  observe(epoch: bigint): boolean {
    if (epoch <= this.highestSeen) return false;
    this.highestSeen = epoch;
    return true;
  }

  /** Throws StaleEpochError(epoch, highest, what) when `epoch` is lower than the highest seen. */
  check(epoch: bigint, what: string): void {
    if (epoch < this.highestSeen) throw new StaleEpochError(epoch, this.highestSeen, what);
  }
}
