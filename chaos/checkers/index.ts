// Every invariant checker of DESIGN.md §5, in order, and a selection by id for workloads and the CLI.
import { InvalidArgumentError } from "../../src/common/errors.ts";
import type { Checker } from "../types.ts";
import { i1Fencing } from "./i1-fencing.ts";
import { i2Recovery } from "./i2-recovery.ts";
import { i3Cancel } from "./i3-cancel.ts";
import { i4Submissions } from "./i4-submissions.ts";
import { i5Checkpoints } from "./i5-checkpoints.ts";
import { i6Restore } from "./i6-restore.ts";
import { i7ExactlyOnce } from "./i7-exactly-once.ts";
import { i8CheckpointIds } from "./i8-checkpoint-ids.ts";
import { i9Terminal } from "./i9-terminal.ts";
import { i10Cleanup } from "./i10-cleanup.ts";
import { i11Registration } from "./i11-registration.ts";

export { type Composed, compose, overallOf } from "./compose.ts";

export const ALL_CHECKERS: readonly Checker[] = [
  i1Fencing,
  i2Recovery,
  i3Cancel,
  i4Submissions,
  i5Checkpoints,
  i6Restore,
  i7ExactlyOnce,
  i8CheckpointIds,
  i9Terminal,
  i10Cleanup,
  i11Registration,
];

/**
 * The checkers with these ids ("I3" or "i3"), in ALL_CHECKERS order; every checker when `ids` is undefined. An
 * unknown id throws, naming the valid ones.
 */
export function checkersFor(ids?: readonly string[]): Checker[] {
  if (ids === undefined) return [...ALL_CHECKERS];
  const wanted = new Set(ids.map((id) => id.trim().toUpperCase()));
  const unknown = [...wanted].filter((id) => !ALL_CHECKERS.some((c) => c.id === id));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(
      `unknown invariant ${unknown.join(", ")}; choose among ${ALL_CHECKERS.map((c) => c.id).join(", ")}`,
    );
  }
  return ALL_CHECKERS.filter((c) => wanted.has(c.id));
}
