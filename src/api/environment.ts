// The environment an application's `main(env, args)` receives. vigil runs main to capture its pipeline, on the
// client and again on every TaskManager (Flink's plan extraction): execute() records the pipeline and never
// settles, so nothing after `await env.execute()` runs, and an execute() that main forgot to await cannot
// become an unhandled rejection.
import { resolve } from "node:path";
import { InvalidArgumentError } from "../common/errors.ts";
import { ConfigReader } from "../runtime/config-reader.ts";
import { readJobConfig } from "../runtime/job-config.ts";
import { SingleOutputStreamOperator } from "./datastream.ts";
import { isValidParallelism, PARALLELISM_RANGE, Pipeline } from "./pipeline.ts";

/** Flink's restart strategies; omitted fields take Flink's defaults (see src/runtime/job-config.ts). */
export type RestartStrategy =
  | { readonly type: "none" }
  | { readonly type: "fixed-delay"; readonly attempts?: number; readonly delayMs?: number }
  | {
      readonly type: "exponential-delay";
      readonly initialBackoffMs?: number;
      readonly maxBackoffMs?: number;
      readonly multiplier?: number;
      readonly resetBackoffThresholdMs?: number;
      readonly jitter?: number;
      readonly attempts?: number;
    };

export interface CheckpointingOptions {
  /** A checkpoint not complete after this long is aborted. */
  readonly timeoutMs?: number | undefined;
  /** Checkpoints in flight at once. */
  readonly maxConcurrent?: number | undefined;
  /** Least time between the end of one checkpoint and the start of the next. */
  readonly minPauseMs?: number | undefined;
}

export interface SequenceOptions {
  /** Records per second per subtask; unlimited when omitted. */
  readonly ratePerSecond?: number | undefined;
}

export interface TextFilesOptions {
  /** Lines per second per subtask; unlimited when omitted. */
  readonly ratePerSecond?: number | undefined;
}

export interface JobExecutionResult {
  readonly jobName: string;
}

export interface JobClient {
  readonly jobName: string;
}

export interface StreamExecutionEnvironment {
  /**
   * 1, 2, …, count split across the source's subtasks (Infinity = unbounded), each subtask optionally
   * rate-limited. Replayable: after a recovery it resumes after the last number of the restored checkpoint.
   */
  fromSequence(count: number, options?: SequenceOptions): SingleOutputStreamOperator<number>;
  /**
   * The lines of the files in directory `dir` (relative paths resolve against the submitting client's working
   * directory), files split across the subtasks, each subtask optionally rate-limited; replayable from the
   * position in the restored checkpoint.
   */
  readTextFiles(dir: string, options?: TextFilesOptions): SingleOutputStreamOperator<string>;
  /** Parallelism of every operator that sets none (default: `vigil run --parallelism`, else 1). */
  setParallelism(parallelism: number): this;
  /** Aligned exactly-once checkpoints every `intervalMs`. Without it, a restart replays from the start. */
  enableCheckpointing(intervalMs: number, options?: CheckpointingOptions): this;
  setRestartStrategy(strategy: RestartStrategy): this;
  /** Submits the pipeline built so far as one job, resolving when it ends. */
  execute(jobName?: string): Promise<JobExecutionResult>;
  /** Submits the pipeline built so far as one job, resolving once it is submitted. */
  executeAsync(jobName?: string): Promise<JobClient>;
}

/** What an application module exports. */
export interface ApplicationModule {
  readonly main: (env: StreamExecutionEnvironment, args: string[]) => void | Promise<void>;
}

/** What execute() captured: the pipeline, frozen at the call, and the job's name. */
export interface CapturedExecution {
  readonly pipeline: Pipeline;
  readonly jobName: string | undefined;
  /** Set when main called execute() more than once: vigil runs one job per application run. */
  readonly repeated: boolean;
}

export class CaptureEnvironment implements StreamExecutionEnvironment {
  readonly pipeline: Pipeline;
  private capturedValue: CapturedExecution | undefined;
  private readonly onCapture: (c: CapturedExecution) => void;
  /** Resolves at the first execute() / executeAsync(). */
  readonly captured: Promise<CapturedExecution>;

  constructor(workingDirectory: string) {
    this.pipeline = new Pipeline(workingDirectory);
    let notify: (c: CapturedExecution) => void = () => undefined;
    this.captured = new Promise((resolve) => {
      notify = resolve;
    });
    this.onCapture = notify;
  }

  /** The capture, if execute() was called. */
  get capture(): CapturedExecution | undefined {
    return this.capturedValue;
  }

  fromSequence(count: number, options: SequenceOptions = {}): SingleOutputStreamOperator<number> {
    const call = `fromSequence(${String(count)})`;
    const unbounded = count === Number.POSITIVE_INFINITY;
    if (!unbounded && (!Number.isSafeInteger(count) || count < 1)) {
      fail(`${call}: count must be an integer ≥ 1, or Infinity for an unbounded sequence`);
    }
    const rate = rateOf(call, options);
    const t = this.pipeline.add({
      method: "fromSequence",
      kind: "source.sequence",
      uidPrefix: "sequence",
      inputs: [],
      // source.sequence reads count 0 as unbounded.
      config: { count: unbounded ? 0 : count, ratePerSecond: rate },
      fn: undefined,
    });
    return new SingleOutputStreamOperator(this.pipeline, t);
  }

  readTextFiles(dir: string, options: TextFilesOptions = {}): SingleOutputStreamOperator<string> {
    const call = `readTextFiles(${JSON.stringify(dir)})`;
    if (typeof dir !== "string" || dir === "") fail(`${call}: the directory must be a non-empty string`);
    const rate = rateOf(call, options);
    const t = this.pipeline.add({
      method: "readTextFiles",
      kind: "source.files",
      uidPrefix: "files",
      inputs: [],
      config: { path: resolve(this.pipeline.workingDirectory, dir), ratePerSecond: rate },
      fn: undefined,
    });
    return new SingleOutputStreamOperator(this.pipeline, t);
  }

  setParallelism(parallelism: number): this {
    if (!isValidParallelism(parallelism)) {
      fail(`env.setParallelism(${String(parallelism)}): parallelism must be ${PARALLELISM_RANGE}`);
    }
    this.pipeline.parallelism = parallelism;
    return this;
  }

  enableCheckpointing(intervalMs: number, options: CheckpointingOptions = {}): this {
    const where = `env.enableCheckpointing(${String(intervalMs)})`;
    const integer = (name: string, value: number | undefined, min: number): number | undefined => {
      if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) {
        fail(`${where}: ${name} must be an integer ≥ ${min}, got ${String(value)}`);
      }
      return value;
    };
    if (!Number.isSafeInteger(intervalMs) || intervalMs < 1) {
      fail(`${where}: the interval must be an integer number of milliseconds ≥ 1`);
    }
    this.pipeline.checkpointing = {
      intervalMs,
      ...defined("timeoutMs", integer("timeoutMs", options.timeoutMs, 1)),
      ...defined("maxConcurrent", integer("maxConcurrent", options.maxConcurrent, 1)),
      ...defined("minPauseMs", integer("minPauseMs", options.minPauseMs, 0)),
    };
    return this;
  }

  setRestartStrategy(strategy: RestartStrategy): this {
    const config = { restartStrategy: strategy };
    // The job config's own reader, so a strategy accepted here is accepted at submission.
    readJobConfig(ConfigReader.of(config, "env.setRestartStrategy()", ""));
    this.pipeline.restartStrategy = { ...strategy };
    return this;
  }

  execute(jobName?: string): Promise<JobExecutionResult> {
    this.record("execute", jobName);
    return new Promise(() => {
      // Never settles: in capture mode the job is submitted by whoever captured it, after main stopped here.
    });
  }

  executeAsync(jobName?: string): Promise<JobClient> {
    this.record("executeAsync", jobName);
    return new Promise(() => {
      // As execute().
    });
  }

  private record(method: string, jobName: string | undefined): void {
    if (jobName !== undefined && (typeof jobName !== "string" || jobName.trim() === "")) {
      fail(`env.${method}(${JSON.stringify(jobName)}): the job name must be a non-empty string`);
    }
    if (this.capturedValue !== undefined) {
      this.capturedValue = { ...this.capturedValue, repeated: true };
      return;
    }
    const frozen = new Pipeline(this.pipeline.workingDirectory);
    frozen.transformations.push(...this.pipeline.transformations);
    frozen.parallelism = this.pipeline.parallelism;
    frozen.checkpointing = this.pipeline.checkpointing;
    frozen.restartStrategy = this.pipeline.restartStrategy;
    this.capturedValue = { pipeline: frozen, jobName, repeated: false };
    this.onCapture(this.capturedValue);
  }
}

function rateOf(call: string, options: { readonly ratePerSecond?: number | undefined }): number | undefined {
  const rate = options.ratePerSecond;
  if (rate !== undefined && !(typeof rate === "number" && Number.isFinite(rate) && rate > 0)) {
    fail(`${call}: ratePerSecond must be a number > 0, got ${String(rate)}`);
  }
  return rate;
}

function defined<K extends string>(key: K, value: number | undefined): { [P in K]?: number } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]: number });
}

function fail(message: string): never {
  throw new InvalidArgumentError(message);
}
