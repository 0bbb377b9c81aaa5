// sink.exactly-once-file { path: absolute directory or file:// URI } — exactly-once line output (as Flink's
// FileSink). Each subtask writes its records, one line each, to `.<part>.inprogress` in the directory; on a
// barrier the file is fsynced, closed and renamed `.<part>.pending` (its name goes into checkpoint state); when
// the checkpoint completes it is renamed to `<part>`, the only kind of name that does not start with a dot.
// Parts are named part-<uid>-<job tag>-<subtask>-<epoch>-<attempt>-<counter>: unique across attempts and
// leaders, so a restarted attempt never reuses a name an earlier one may have left behind.
import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { isAbsolute, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { CorruptRecordError } from "../../common/errors.ts";
import type { ConfigReader } from "../config-reader.ts";
import type { StreamRecord } from "./elements.ts";
import type {
  RestoreInfo,
  StreamOperatorContext,
  StreamOperatorDefinition,
  TwoPhaseCommitSink,
} from "./operators.ts";
import { formatRecord } from "./sink-file.ts";
import { TwoPhaseCommitSinkOperator } from "./two-phase-commit.ts";

/** Buffered characters that trigger a write. */
const FLUSH_AT = 64 * 1024;

/** A pre-committed part: its final (visible) file name in the sink's directory. */
export interface FilePart {
  readonly name: string;
}

export const exactlyOnceFileSink: StreamOperatorDefinition = {
  kind: "sink.exactly-once-file",
  role: "operator",
  summary:
    "writes records as lines to part files in a directory, visible only once their checkpoint completed",
  configure(config) {
    const dir = directoryOf(config);
    return () => new TwoPhaseCommitSinkOperator(new ExactlyOnceFileSink(dir));
  },
};

/** The directory of a path config value (absolute path or file:// URI). */
export function directoryOf(config: ConfigReader, key = "path"): string {
  const raw = config.string(key);
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(raw)) {
    let path: string | undefined;
    try {
      const url = new URL(raw);
      if (url.protocol === "file:") path = fileURLToPath(url);
    } catch {
      config.fail(key, `${JSON.stringify(raw)} is not a valid file:// URI; use file:///absolute/dir`);
    }
    if (path === undefined) config.fail(key, `${JSON.stringify(raw)}: only file:// URIs are supported`);
    return path;
  }
  if (!isAbsolute(raw)) {
    config.fail(
      key,
      `${JSON.stringify(raw)} is relative; use an absolute directory path or a file:// URI (TaskManagers may run in other directories)`,
    );
  }
  return normalize(raw);
}

export function inProgressName(part: string): string {
  return `.${part}.inprogress`;
}

export function pendingName(part: string): string {
  return `.${part}.pending`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export class ExactlyOnceFileSink implements TwoPhaseCommitSink<FilePart> {
  private context!: StreamOperatorContext;
  /** part-<uid>-<job tag>- : what every part of this sink (any subtask, any attempt) starts with. */
  private prefix = "";
  private counter = 0;
  private current: { readonly part: string; readonly file: FileHandle } | undefined;
  private buffer: string[] = [];
  private buffered = 0;

  constructor(readonly directory: string) {}

  async open(context: StreamOperatorContext): Promise<void> {
    this.context = context;
    const uid = context.uid.replace(/[^A-Za-z0-9_.]/g, "_");
    const jobTag = createHash("sha256").update(context.jobId).digest("hex").slice(0, 8);
    this.prefix = `part-${uid}-${jobTag}-`;
    await mkdir(this.directory, { recursive: true });
  }

  async write(records: readonly StreamRecord[]): Promise<void> {
    if (records.length === 0) return;
    if (this.current === undefined) {
      const { subtask, epoch, attempt } = this.context;
      const part = `${this.prefix}${subtask}-${epoch}-${attempt}-${this.counter++}`;
      const file = await open(join(this.directory, inProgressName(part)), "wx");
      this.current = { part, file };
    }
    for (const record of records) {
      const line = `${formatRecord(record)}\n`;
      this.buffer.push(line);
      this.buffered += line.length;
    }
    if (this.buffered >= FLUSH_AT) await this.flush();
  }

  async preCommit(): Promise<FilePart | undefined> {
    const current = this.current;
    if (current === undefined) return undefined;
    await this.flush();
    await current.file.sync();
    this.current = undefined;
    await current.file.close();
    await rename(
      join(this.directory, inProgressName(current.part)),
      join(this.directory, pendingName(current.part)),
    );
    return { name: current.part };
  }

  async commit(committables: readonly FilePart[]): Promise<void> {
    for (const { name } of committables) {
      try {
        await rename(join(this.directory, pendingName(name)), join(this.directory, name));
      } catch (e: unknown) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
        // Committed before (by an earlier attempt, or another subtask after a rescale): fine if it is there.
        const committed = await stat(join(this.directory, name)).then(
          () => true,
          () => false,
        );
        if (!committed) {
          throw new CorruptRecordError(
            join(this.directory, name),
            `neither the pending file ${pendingName(name)} nor the committed part exists; output committed by ` +
              "a completed checkpoint was removed outside vigil, so it cannot be made exactly-once",
          );
        }
      }
    }
    if (committables.length > 0) await syncDirectory(this.directory);
  }

  async discardUncommitted(keep: readonly FilePart[], _restore: RestoreInfo): Promise<void> {
    const { subtask, parallelism, epoch, attempt } = this.context;
    const kept = new Set(keep.map((p) => p.name));
    const pattern = new RegExp(
      `^\\.(${escapeRegExp(this.prefix)}(\\d+)-(\\d+)-(\\d+)-\\d+)\\.(inprogress|pending)$`,
    );
    for (const entry of await readdir(this.directory)) {
      const m = pattern.exec(entry);
      if (m === null) continue;
      const [, part, oldSubtask, oldEpoch, oldAttempt] = m;
      // Old subtask j's leftovers are subtask (j mod p)'s to clean, so after a rescale each has one owner.
      if (Number(oldSubtask) % parallelism !== subtask) continue;
      if (oldEpoch === String(epoch) && oldAttempt === String(attempt)) continue;
      if (kept.has(part!)) continue;
      await rm(join(this.directory, entry), { force: true });
    }
  }

  async close(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    this.buffer = [];
    this.buffered = 0;
    await current?.file.close();
  }

  private async flush(): Promise<void> {
    if (this.buffer.length === 0 || this.current === undefined) return;
    const chunk = this.buffer.join("");
    this.buffer = [];
    this.buffered = 0;
    await this.current.file.writeFile(chunk);
  }
}

/** Makes renames in `directory` durable. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
