// Reads one JSON object of user configuration (a job graph file, a job config, an operator's config) field by
// field. Every problem is an InvalidArgumentError that names the document and the JSON path
// ("job.json: vertices[1].parallelism: must be an integer ≥ 1"); keys nobody asked for are refused by
// finish(), so a typo never passes silently as "use the default".
import { InvalidArgumentError } from "../common/errors.ts";

export interface IntegerRange {
  readonly min: number;
  readonly max?: number;
}

export interface NumberRange {
  /** Inclusive lower bound. */
  readonly min?: number;
  /** Exclusive lower bound. */
  readonly above?: number;
  /** Inclusive upper bound. */
  readonly max?: number;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `path.key`, or `path["odd key"]` when the key is not an identifier. */
export function childPath(path: string, key: string): string {
  if (!IDENTIFIER.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path ? `${path}.${key}` : key;
}

/** "<where>: <path>: <problem>", leaving out empty parts. */
export function describeProblem(where: string, path: string, problem: string): string {
  return [where, path, problem].filter((part) => part !== "").join(": ");
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export class ConfigReader {
  private readonly known: string[] = [];

  private constructor(
    private readonly value: Record<string, unknown>,
    /** The document, e.g. "job.json" or "vertex out". */
    readonly where: string,
    /** The object's JSON path inside it ("" for the root). */
    readonly path: string,
  ) {}

  /** A reader over `value`, which must be a JSON object. */
  static of(value: unknown, where: string, path: string): ConfigReader {
    if (!isPlainObject(value)) {
      throw new InvalidArgumentError(describeProblem(where, path, "must be a JSON object"));
    }
    return new ConfigReader(value, where, path);
  }

  pathOf(key: string): string {
    return childPath(this.path, key);
  }

  /** Throws an InvalidArgumentError about `key` (or the object itself when undefined). */
  fail(key: string | undefined, problem: string): never {
    throw new InvalidArgumentError(
      describeProblem(this.where, key === undefined ? this.path : this.pathOf(key), problem),
    );
  }

  /** The raw value of `key` (undefined when absent); marks the key as known. */
  raw(key: string): unknown {
    this.known.push(key);
    return Object.hasOwn(this.value, key) ? this.value[key] : undefined;
  }

  has(key: string): boolean {
    return this.raw(key) !== undefined;
  }

  string(key: string): string {
    const v = this.optionalString(key);
    if (v === undefined) this.fail(key, "is required");
    return v;
  }

  optionalString(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== "string" || v === "") this.fail(key, "must be a non-empty string");
    return v;
  }

  /** One of `choices`; the message lists them. */
  choice<T extends string>(key: string, choices: readonly T[]): T {
    const v = this.raw(key);
    if (v === undefined) this.fail(key, `is required; use one of ${choices.join(", ")}`);
    if (typeof v !== "string" || !(choices as readonly string[]).includes(v)) {
      this.fail(key, `${JSON.stringify(v)} is not one of ${choices.join(", ")}`);
    }
    return v as T;
  }

  integer(key: string, range: IntegerRange): number {
    const v = this.optionalInteger(key, range);
    if (v === undefined) this.fail(key, "is required");
    return v;
  }

  optionalInteger(key: string, range: IntegerRange): number | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < range.min) {
      this.fail(
        key,
        range.min === 0 ? "must be a non-negative integer" : `must be an integer ≥ ${range.min}`,
      );
    }
    if (range.max !== undefined && v > range.max) this.fail(key, `must be at most ${range.max}`);
    return v;
  }

  number(key: string, range: NumberRange): number {
    const v = this.optionalNumber(key, range);
    if (v === undefined) this.fail(key, "is required");
    return v;
  }

  optionalNumber(key: string, range: NumberRange): number | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    const ok =
      typeof v === "number" &&
      Number.isFinite(v) &&
      (range.min === undefined || v >= range.min) &&
      (range.above === undefined || v > range.above) &&
      (range.max === undefined || v <= range.max);
    if (!ok) this.fail(key, `must be a number ${describeRange(range)}`.trimEnd());
    return v as number;
  }

  /** The nested object at `key`, or undefined when absent. The caller finishes it. */
  optionalObject(key: string): ConfigReader | undefined {
    const v = this.raw(key);
    return v === undefined ? undefined : ConfigReader.of(v, this.where, this.pathOf(key));
  }

  /** The array at `key` with each element's path, or undefined when absent. */
  optionalArray(key: string): { readonly items: readonly unknown[]; readonly path: string } | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) this.fail(key, "must be an array");
    return { items: v, path: this.pathOf(key) };
  }

  /**
   * Refuses keys outside `keys` at once (and marks them known), so that a misspelt key is reported as such
   * rather than as a missing required one.
   */
  expectKeys(keys: readonly string[]): void {
    this.known.push(...keys);
    this.finish();
  }

  /** Refuses any key that no accessor asked for. Call it after reading every field. */
  finish(): void {
    for (const key of Object.keys(this.value)) {
      if (this.known.includes(key)) continue;
      const known = [...new Set(this.known)];
      this.fail(
        key,
        known.length === 0
          ? "unknown key; this object takes no keys"
          : `unknown key; use ${known.join(", ")}`,
      );
    }
  }
}

function describeRange(range: NumberRange): string {
  const low =
    range.above !== undefined ? `> ${range.above}` : range.min !== undefined ? `≥ ${range.min}` : undefined;
  if (range.max === undefined) return low ?? "";
  if (range.min !== undefined && range.above === undefined) return `from ${range.min} to ${range.max}`;
  return low === undefined ? `≤ ${range.max}` : `${low} and ≤ ${range.max}`;
}
