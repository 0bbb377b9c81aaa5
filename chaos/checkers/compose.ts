// One verdict out of many checkers. A checker that throws did not decide anything: its verdict is "unknown" with
// the error as its problem, never valid. Overall: false if any is false, else "unknown" if any is, else true.
import { errorText } from "../history.ts";
import type { Checker, CheckInput, Validity, Verdict } from "../types.ts";
import { capped } from "./findings.ts";

export interface Composed {
  readonly overall: Validity;
  /** One per checker, in the checkers' order. */
  readonly verdicts: readonly Verdict[];
}

export function compose(checkers: readonly Checker[]): (input: CheckInput) => Composed {
  return (input) => {
    const verdicts = checkers.map((c) => run(c, input));
    return { overall: overallOf(verdicts), verdicts };
  };
}

export function overallOf(verdicts: readonly Verdict[]): Validity {
  if (verdicts.some((v) => v.valid === false)) return false;
  if (verdicts.some((v) => v.valid === "unknown")) return "unknown";
  return true;
}

function run(checker: Checker, input: CheckInput): Verdict {
  try {
    const v = checker.check(input);
    // A verdict whose validity is none of the three (a bug in a checker) decides nothing either.
    const valid: Validity = v.valid === true || v.valid === false ? v.valid : "unknown";
    return { ...v, id: checker.id, name: checker.name, valid, problems: capped(v.problems) };
  } catch (e: unknown) {
    return {
      id: checker.id,
      name: checker.name,
      valid: "unknown",
      problems: [`the checker threw: ${errorText(e)}`],
    };
  }
}
