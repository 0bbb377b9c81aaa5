// sink.discard {} — drops every record; counts them. For throughput runs and jobs whose output is irrelevant.
import type { OperatorDefinition, Sink, StreamRecord } from "./operator.ts";

export const discardSink: OperatorDefinition = {
  kind: "sink.discard",
  role: "sink",
  summary: "drops every record",
  configure() {
    return () => new DiscardSink();
  },
};

export class DiscardSink implements Sink {
  records = 0;

  async open(): Promise<void> {}

  async write(batch: readonly StreamRecord[]): Promise<void> {
    this.records += batch.length;
  }

  async finish(): Promise<void> {}

  async close(): Promise<void> {}
}
