// sink.file { path: string } — path is an absolute directory path or a file:// URI. Each subtask writes one
// line per record to <path>/<jobId>/<vertexId>-<subtask>-epoch-<epoch>-attempt-<attempt>.txt. Every attempt gets
// its own file, so a restarted job never appends to a failed attempt's output. Lines are buffered and written
// in chunks; finish() writes the rest and fsyncs before the task reports FINISHED; close() after a failure or
// cancel closes the file without writing what is still buffered. At-least-once at best: for exactly-once
// output use sink.exactly-once-file.
import type { FileHandle } from "node:fs/promises";
import { mkdir, open } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { StreamRecord } from "./elements.ts";
import { BaseOperator, type StreamOperatorContext, type StreamOperatorDefinition } from "./operators.ts";
import { directoryOf } from "./sink-exactly-once-file.ts";

/** Buffered characters that trigger a write. */
const FLUSH_AT = 64 * 1024;

export const fileSink: StreamOperatorDefinition = {
  kind: "sink.file",
  role: "operator",
  summary:
    "writes each record as a line to <path>/<jobId>/<vertexId>-<subtask>-epoch-<epoch>-attempt-<attempt>.txt",
  configure(config) {
    const dir = directoryOf(config);
    return () => new FileSink(dir);
  },
};

/** The output file of one subtask attempt (for tests and tools that read the output). */
export function fileSinkOutput(
  directory: string,
  jobId: string,
  vertexId: string,
  subtask: number,
  epoch: bigint,
  attempt: number,
): string {
  return join(directory, jobId, `${vertexId}-${subtask}-epoch-${epoch}-attempt-${attempt}.txt`);
}

class FileSink extends BaseOperator {
  private file: FileHandle | undefined;
  private buffer: string[] = [];
  private buffered = 0;

  constructor(private readonly directory: string) {
    super();
  }

  override async open(context: StreamOperatorContext): Promise<void> {
    await super.open(context);
    const path = fileSinkOutput(
      this.directory,
      context.jobId,
      context.vertex.id,
      context.subtask,
      context.epoch,
      context.attempt,
    );
    await mkdir(dirname(path), { recursive: true });
    this.file = await open(path, "w");
  }

  async processBatch(records: readonly StreamRecord[]): Promise<void> {
    for (const record of records) {
      const line = `${formatRecord(record)}\n`;
      this.buffer.push(line);
      this.buffered += line.length;
    }
    if (this.buffered >= FLUSH_AT) await this.flush();
  }

  override async finish(): Promise<void> {
    await this.flush();
    await this.file?.sync();
  }

  override async close(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    this.buffer = [];
    this.buffered = 0;
    await file?.close();
  }

  private async flush(): Promise<void> {
    if (this.buffer.length === 0 || this.file === undefined) return;
    const chunk = this.buffer.join("");
    this.buffer = [];
    this.buffered = 0;
    // writeFile on a handle writes all of it from the current position (write() may write only part).
    await this.file.writeFile(chunk);
  }
}

/** One line per record: strings as they are (JSON-quoted if they hold a line break), the rest as JSON. */
export function formatRecord(record: StreamRecord): string {
  if (typeof record === "string") return /[\r\n]/.test(record) ? JSON.stringify(record) : record;
  if (typeof record === "bigint") return record.toString();
  return JSON.stringify(record) ?? String(record);
}
