// What a checker found, turned into a verdict: violations make it false, anything it could not decide makes it
// "unknown" (never valid), and the problems a person reads are capped so that one bug does not bury the rest.
import type { Op } from "../history.ts";
import type { ClusterEvent, Validity, Verdict } from "../types.ts";

export const MAX_PROBLEMS = 20;

export class Findings {
  readonly #problems: string[] = [];
  readonly #undecided: string[] = [];
  readonly #evidence: string[] = [];

  /** A violation of the invariant. */
  problem(text: string): void {
    this.#problems.push(text);
  }

  /** Something the checker could not decide (missing data, the run ended too early): the verdict is unknown. */
  undecided(text: string): void {
    this.#undecided.push(text);
  }

  /** What was seen to hold or to work (counts, measured times, fencing refusals). */
  evidence(text: string): void {
    this.#evidence.push(text);
  }

  get violations(): number {
    return this.#problems.length;
  }

  verdict(checker: { readonly id: string; readonly name: string }): Verdict {
    const valid: Validity = this.#problems.length > 0 ? false : this.#undecided.length > 0 ? "unknown" : true;
    const problems = capped([...this.#problems, ...this.#undecided.map((u) => `undecided: ${u}`)]);
    return {
      id: checker.id,
      name: checker.name,
      valid,
      problems,
      ...(this.#evidence.length > 0 && { evidence: capped(this.#evidence) }),
    };
  }
}

/** At most MAX_PROBLEMS lines; the last one says how many were left out. */
export function capped(lines: readonly string[], max = MAX_PROBLEMS): string[] {
  if (lines.length <= max) return [...lines];
  return [...lines.slice(0, max - 1), `… and ${lines.length - max + 1} more`];
}

/** Wall-clock ms as printed in problems: whole ms, the same scale as the events' and ops' `at`. */
export function ms(at: number): string {
  return Number.isFinite(at) ? String(Math.round(at)) : String(at);
}

/** e.g. `job-state RUNNING of j1 epoch 3 (jm-2 at 1732…)`. */
export function describe(e: ClusterEvent): string {
  const name = typeof e["event"] === "string" ? e["event"] : "event";
  const state = typeof e["state"] === "string" ? ` ${e["state"]}` : "";
  const job = typeof e["job"] === "string" ? ` of ${e["job"]}` : "";
  const epoch = e["epoch"] === undefined ? "" : ` epoch ${String(e["epoch"])}`;
  const at = typeof e["at"] === "number" ? ms(e["at"]) : "?";
  return `${name}${state}${job}${epoch} (${e.source} at ${at})`;
}

/** e.g. `op 12 (cancel ok, process 2, at 1732…)`. */
export function describeOp(op: Op): string {
  return `op ${op.index} (${op.f} ${op.type}, process ${op.process}, at ${ms(op.at)})`;
}
