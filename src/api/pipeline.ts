// The pipeline an application's `main` builds, as recorded by the environment: one Transformation per
// operator (sources, user functions, sinks) in creation order. keyBy and union are not operators; they only
// shape how an operator's inputs are connected (Flink's virtual partition and union transformations), so they
// live in the Input of the operator that consumes them.
import { InvalidArgumentError } from "../common/errors.ts";
import { checkSegment, MAX_PARALLELISM } from "../runtime/job-graph.ts";
import type { RegisteredFunction } from "./functions.ts";

export type OperatorKind =
  | "source.sequence"
  | "source.files"
  | "user.map"
  | "user.filter"
  | "user.flat-map"
  | "user.reduce"
  | "user.sum"
  | "user.keyed-process"
  | "sink.exactly-once-file"
  | "sink.print";

/** Records from `producer`, hash-partitioned by `keySelector` when the consumer is keyed. */
export interface Input {
  readonly producer: Transformation;
  readonly keySelector: RegisteredFunction | undefined;
}

export interface TransformationSpec {
  /** The API call that created it, for messages: "map", "fromSequence", … */
  readonly method: string;
  readonly kind: OperatorKind;
  /** Prefix of the derived uid: "map" → "map-2". */
  readonly uidPrefix: string;
  readonly inputs: readonly Input[];
  /** The operator's parameters, as they go into the vertex's config_json (undefined values left out). */
  readonly config: Readonly<Record<string, unknown>>;
  readonly fn: RegisteredFunction | undefined;
}

export interface CheckpointingSettings {
  readonly intervalMs: number;
  readonly timeoutMs?: number;
  readonly maxConcurrent?: number;
  readonly minPauseMs?: number;
}

export class Transformation {
  private uidValue: string | undefined;
  private nameValue: string | undefined;
  private parallelismValue: number | undefined;

  constructor(
    /** 1-based position among the pipeline's operators: what derived uids are made of. */
    readonly index: number,
    readonly spec: TransformationSpec,
  ) {}

  /** The user's uid, else "<prefix>-<index>": stable as long as main builds the same pipeline. */
  get uid(): string {
    return this.uidValue ?? `${this.spec.uidPrefix}-${this.index}`;
  }

  get userUid(): string | undefined {
    return this.uidValue;
  }

  get name(): string | undefined {
    return this.nameValue;
  }

  get parallelism(): number | undefined {
    return this.parallelismValue;
  }

  /** `map #2 (uid "map-2")`, plus the name when one was given: how errors point at an operator. */
  describe(): string {
    const name = this.nameValue === undefined ? "" : `, name ${JSON.stringify(this.nameValue)}`;
    return `${this.spec.method} #${this.index} (uid ${JSON.stringify(this.uid)}${name})`;
  }

  setUid(uid: string): void {
    if (typeof uid !== "string") this.fail(`uid(${String(uid)}): the uid must be a string`);
    try {
      checkSegment(uid, `uid(${JSON.stringify(uid)})`);
    } catch (e: unknown) {
      this.fail(e instanceof Error ? e.message : String(e));
    }
    this.uidValue = uid;
  }

  setName(name: string): void {
    if (typeof name !== "string" || name.trim() === "") {
      this.fail(`name(${JSON.stringify(name)}): the name must be a non-empty string`);
    }
    this.nameValue = name;
  }

  setParallelism(parallelism: number): void {
    if (!isValidParallelism(parallelism)) {
      this.fail(`setParallelism(${String(parallelism)}): parallelism must be ${PARALLELISM_RANGE}`);
    }
    this.parallelismValue = parallelism;
  }

  fail(problem: string): never {
    throw new InvalidArgumentError(`${this.describe()}: ${problem}`);
  }
}

/** Everything main recorded in one environment. */
export class Pipeline {
  readonly transformations: Transformation[] = [];
  parallelism: number | undefined;
  checkpointing: CheckpointingSettings | undefined;
  restartStrategy: Readonly<Record<string, unknown>> | undefined;

  constructor(
    /** Relative paths (file source, file sink) resolve against it, so they mean the same on every machine. */
    readonly workingDirectory: string,
  ) {}

  add(spec: TransformationSpec): Transformation {
    const t = new Transformation(this.transformations.length + 1, spec);
    this.transformations.push(t);
    return t;
  }
}

export function isValidParallelism(parallelism: unknown): parallelism is number {
  return (
    Number.isInteger(parallelism) &&
    (parallelism as number) >= 1 &&
    (parallelism as number) <= MAX_PARALLELISM
  );
}

export const PARALLELISM_RANGE = `an integer from 1 to ${MAX_PARALLELISM}`;
