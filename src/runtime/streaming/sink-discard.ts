// sink.discard {} — drops every record. For throughput runs and jobs whose output is irrelevant.
import type { StreamRecord } from "./elements.ts";
import { BaseOperator, type StreamOperatorDefinition } from "./operators.ts";

export const discardSink: StreamOperatorDefinition = {
  kind: "sink.discard",
  role: "operator",
  summary: "drops every record",
  configure() {
    return () => new DiscardSink();
  },
};

class DiscardSink extends BaseOperator {
  processBatch(_records: readonly StreamRecord[]): void {}
}
