// Command-line arguments of an application (what follows `--` in `vigil run APP -- …`), read the way the
// rest of vigil reads configuration: typed accessors whose errors name the flag and say what to pass, and
// finish() to refuse flags nobody asked for, so a typo never silently becomes "use the default".
// Flags are `--name value` or `--name=value`; a flag followed by another flag (or by nothing) is a switch.
import { InvalidArgumentError } from "../common/errors.ts";

export interface IntegerRange {
  readonly min: number;
  readonly max?: number;
}

export interface NumberRange {
  /** Exclusive lower bound. */
  readonly above?: number;
  /** Inclusive lower bound. */
  readonly min?: number;
}

export class ParameterTool {
  private readonly asked = new Set<string>();

  private constructor(private readonly values: ReadonlyMap<string, string | true>) {}

  static fromArgs(args: readonly string[]): ParameterTool {
    const values = new Map<string, string | true>();
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      if (!arg.startsWith("--") || arg === "--") {
        throw new InvalidArgumentError(
          `argument ${JSON.stringify(arg)} is not a flag; pass arguments as --name value`,
        );
      }
      const eq = arg.indexOf("=");
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      if (name === "") throw new InvalidArgumentError(`argument ${JSON.stringify(arg)} has no flag name`);
      if (values.has(name)) throw new InvalidArgumentError(`--${name} is given more than once; give it once`);
      if (eq !== -1) {
        values.set(name, arg.slice(eq + 1));
        continue;
      }
      const next = args[i + 1];
      if (next === undefined || next.startsWith("--")) {
        values.set(name, true);
      } else {
        values.set(name, next);
        i++;
      }
    }
    return new ParameterTool(values);
  }

  has(name: string): boolean {
    this.asked.add(name);
    return this.values.has(name);
  }

  /** True when `--name` is given without a value. */
  flag(name: string): boolean {
    const v = this.raw(name);
    if (v === undefined) return false;
    if (v !== true) this.fail(name, `is a switch and takes no value (got ${JSON.stringify(v)})`);
    return true;
  }

  string(name: string, hint = "VALUE"): string {
    const v = this.optionalString(name);
    if (v === undefined) this.fail(name, `is required; pass --${name} ${hint}`);
    return v;
  }

  optionalString(name: string): string | undefined {
    const v = this.raw(name);
    if (v === true || v === "") this.fail(name, "needs a value");
    return v;
  }

  integer(name: string, range: IntegerRange): number {
    const v = this.optionalInteger(name, range);
    if (v === undefined) this.fail(name, `is required; pass --${name} N (an integer ${describe(range)})`);
    return v;
  }

  optionalInteger(name: string, range: IntegerRange): number | undefined {
    const text = this.optionalString(name);
    if (text === undefined) return undefined;
    const v = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(v) || v < range.min || (range.max !== undefined && v > range.max)) {
      this.fail(name, `${JSON.stringify(text)} is not an integer ${describe(range)}`);
    }
    return v;
  }

  optionalNumber(name: string, range: NumberRange = {}): number | undefined {
    const text = this.optionalString(name);
    if (text === undefined) return undefined;
    const v = text.trim() === "" ? Number.NaN : Number(text);
    const ok =
      Number.isFinite(v) &&
      (range.above === undefined || v > range.above) &&
      (range.min === undefined || v >= range.min);
    if (!ok) {
      const bound =
        range.above !== undefined ? ` > ${range.above}` : range.min !== undefined ? ` ≥ ${range.min}` : "";
      this.fail(name, `${JSON.stringify(text)} is not a number${bound}`);
    }
    return v;
  }

  /** Refuses flags that no accessor asked for, listing the ones that were. */
  finish(): void {
    for (const name of this.values.keys()) {
      if (this.asked.has(name)) continue;
      const known = [...this.asked].map((n) => `--${n}`).join(", ");
      this.fail(
        name,
        known === "" ? "unknown flag; this application takes none" : `unknown flag; use ${known}`,
      );
    }
  }

  private raw(name: string): string | true | undefined {
    this.asked.add(name);
    return this.values.get(name);
  }

  private fail(name: string, problem: string): never {
    throw new InvalidArgumentError(`--${name}: ${problem}`);
  }
}

function describe(range: IntegerRange): string {
  return range.max === undefined ? `≥ ${range.min}` : `from ${range.min} to ${range.max}`;
}
