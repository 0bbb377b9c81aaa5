// source.files { path: absolute directory or file:// URI, ratePerSecond?: number > 0 } — emits the lines of the
// directory's files (regular files, or links to them, not starting with a dot, in sorted name order; subtask i of p reads those
// whose index mod p is i), one string record per line, without the line break; at most ratePerSecond lines per
// second per subtask when given (as source.sequence). The position is a list of splits {file, line} in operator
// state ("round-robin"), so a restore resumes at the first line not yet emitted, also with another
// parallelism. The file set is fixed when the job first starts: files added later are not read, and a file
// named in a checkpoint that has disappeared is an error.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { NotFoundError } from "../../common/errors.ts";
import type { ListState } from "../../state/operator-state.ts";
import {
  BaseSource,
  type RestoreInfo,
  type StreamOperatorContext,
  type StreamOperatorDefinition,
} from "./operators.ts";
import { directoryOf } from "./sink-exactly-once-file.ts";
import { SourceRate } from "./source-rate.ts";

const BATCH = 256;

export interface FileSplit {
  /** The file's name in the directory. */
  readonly file: string;
  /** Lines of it already emitted. */
  readonly line: number;
}

export const filesSource: StreamOperatorDefinition = {
  kind: "source.files",
  role: "source",
  summary: "emits the lines of the files of a directory, split across subtasks, position in checkpoints",
  configure(config) {
    const dir = directoryOf(config);
    const ratePerSecond = config.optionalNumber("ratePerSecond", { above: 0 });
    return () => new FilesSource(dir, ratePerSecond);
  },
};

export class FilesSource extends BaseSource {
  private state!: ListState<FileSplit>;
  private splits: { file: string; line: number }[] = [];
  /** Lines of splits[0], read when it is reached (a file is read whole: fine for text inputs, not for huge ones). */
  private lines: string[] | undefined;
  private readonly rate: SourceRate | undefined;

  constructor(
    readonly directory: string,
    ratePerSecond?: number,
  ) {
    super();
    this.rate = ratePerSecond === undefined ? undefined : new SourceRate(ratePerSecond, BATCH);
  }

  override async open(context: StreamOperatorContext): Promise<void> {
    await super.open(context);
    this.state = context.operatorState.list<FileSplit>("splits", "round-robin");
  }

  override async initializeState(restore: RestoreInfo): Promise<void> {
    this.rate?.start();
    if (restore.checkpointId !== undefined) {
      this.splits = this.state.get().map((s) => ({ ...s }));
      return;
    }
    const { subtask, parallelism } = this.context;
    const files = await inputFiles(this.directory).catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code === "ENOENT")
        throw new NotFoundError(`source.files directory ${this.directory}`);
      throw e;
    });
    this.splits = files.filter((_, i) => i % parallelism === subtask).map((file) => ({ file, line: 0 }));
  }

  override snapshotState(): void {
    this.state.update(this.splits.map((s) => ({ ...s })));
  }

  async next(): Promise<readonly string[] | undefined> {
    for (;;) {
      const split = this.splits[0];
      if (split === undefined) return undefined;
      if (this.lines === undefined) this.lines = await this.read(split.file);
      if (split.line < this.lines.length) {
        const size = this.rate === undefined ? BATCH : await this.rate.due(this.context.signal);
        const batch = this.lines.slice(split.line, split.line + size);
        split.line += batch.length;
        this.rate?.emit(batch.length);
        return batch;
      }
      this.splits.shift();
      this.lines = undefined;
    }
  }

  private async read(file: string): Promise<string[]> {
    let text: string;
    try {
      text = await readFile(join(this.directory, file), { encoding: "utf8", signal: this.context.signal });
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT")
        throw new NotFoundError(
          `source.files input ${join(this.directory, file)} (named in the restored position)`,
        );
      throw e;
    }
    const lines = text.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    return lines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  }
}

/**
 * The files source.files reads from `dir`, sorted: regular files, and symbolic links to regular files (a
 * directory of links to the real data is common), whose names do not start with a dot.
 */
export async function inputFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith(".")) continue;
    if (e.isFile()) names.push(e.name);
    else if (e.isSymbolicLink()) {
      const target = await stat(join(dir, e.name)).catch(() => undefined);
      if (target?.isFile()) names.push(e.name);
    }
  }
  return names.sort();
}
