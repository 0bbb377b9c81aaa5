// sink.print { identifier?: string } — writes each record as a line to the TaskManager's standard output (the
// context's stdout writer), prefixed as Flink's print sink does: "<identifier>:<subtask+1>> " with parallelism
// > 1, "<identifier>> " with parallelism 1, "<subtask+1>> " or nothing without an identifier.
// For debugging and examples; not exactly-once (a restarted job prints replayed records again).

import type { StreamRecord } from "./elements.ts";
import { BaseOperator, type StreamOperatorContext, type StreamOperatorDefinition } from "./operators.ts";
import { formatRecord } from "./sink-file.ts";

export const printSink: StreamOperatorDefinition = {
  kind: "sink.print",
  role: "operator",
  summary: "writes each record as a line to standard output",
  configure(config) {
    const identifier = config.optionalString("identifier");
    return () => new PrintSink(identifier);
  },
};

class PrintSink extends BaseOperator {
  private linePrefix = "";

  constructor(private readonly identifier: string | undefined) {
    super();
  }

  override async open(context: StreamOperatorContext): Promise<void> {
    await super.open(context);
    const subtask = context.parallelism > 1 ? String(context.subtask + 1) : undefined;
    const parts = [this.identifier, subtask].filter((p) => p !== undefined);
    this.linePrefix = parts.length === 0 ? "" : `${parts.join(":")}> `;
  }

  processBatch(records: readonly StreamRecord[]): void {
    if (records.length === 0) return;
    this.context.stdout(records.map((r) => `${this.linePrefix}${formatRecord(r)}\n`).join(""));
  }
}
