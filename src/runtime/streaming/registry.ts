// Streaming operator kinds by name. Submission validates a streaming job's vertices against a registry; a
// TaskManager builds its chains from one. The issue-3 kinds (source.sequence, map.fail, sink.file,
// sink.discard) are here too, with their issue-3 configs, so one registry serves every job.
import { InvalidArgumentError } from "../../common/errors.ts";
import type { JobVertex } from "../../generated/records.ts";
import { ConfigReader } from "../config-reader.ts";
import { parseJsonText } from "../json-text.ts";
import { keyedProcessOperator, reduceOperator, sumOperator } from "./keyed-functions.ts";
import { failMap } from "./map-fail.ts";
import type { StreamOperator, StreamOperatorDefinition, StreamSource } from "./operators.ts";
import { discardSink } from "./sink-discard.ts";
import { exactlyOnceFileSink } from "./sink-exactly-once-file.ts";
import { fileSink } from "./sink-file.ts";
import { printSink } from "./sink-print.ts";
import { filesSource } from "./source-files.ts";
import { sequenceSource } from "./source-sequence.ts";
import { filterOperator, flatMapOperator, mapOperator } from "./user-functions.ts";

/** A vertex whose config passed validation, ready to instantiate per subtask. */
export type ConfiguredStreamOperator =
  | { readonly role: "source"; readonly kind: string; readonly create: () => StreamSource }
  | { readonly role: "operator"; readonly kind: string; readonly create: () => StreamOperator };

export class StreamOperatorRegistry {
  private readonly byKind = new Map<string, StreamOperatorDefinition>();

  constructor(definitions: readonly StreamOperatorDefinition[]) {
    for (const d of definitions) {
      if (this.byKind.has(d.kind)) throw new Error(`operator kind ${d.kind} is registered twice`);
      this.byKind.set(d.kind, d);
    }
  }

  get(kind: string): StreamOperatorDefinition | undefined {
    return this.byKind.get(kind);
  }

  /** Known kinds, sorted. */
  kinds(): string[] {
    return [...this.byKind.keys()].sort();
  }

  /**
   * Validates `vertex`'s kind and config (config_json "" means {}); errors start with `where`, name the key
   * under `config`, and list the known kinds for an unknown one.
   */
  configure(vertex: JobVertex, where: string): ConfiguredStreamOperator {
    const d = this.byKind.get(vertex.operatorKind);
    if (d === undefined) {
      throw new InvalidArgumentError(
        `${where}: operator kind ${JSON.stringify(vertex.operatorKind)} is unknown; known kinds: ${this.kinds().join(", ")}`,
      );
    }
    const json = vertex.configJson.trim() === "" ? {} : parseJsonText(vertex.configJson, `${where}: config`);
    const config = ConfigReader.of(json, where, "config");
    const configured: ConfiguredStreamOperator =
      d.role === "source"
        ? { role: d.role, kind: d.kind, create: d.configure(config) }
        : { role: d.role, kind: d.kind, create: d.configure(config) };
    config.finish();
    return configured;
  }
}

export const BUILT_IN_STREAM_OPERATORS: readonly StreamOperatorDefinition[] = [
  sequenceSource,
  filesSource,
  mapOperator,
  filterOperator,
  flatMapOperator,
  reduceOperator,
  sumOperator,
  keyedProcessOperator,
  failMap,
  exactlyOnceFileSink,
  fileSink,
  discardSink,
  printSink,
];

export const builtInStreamOperators = new StreamOperatorRegistry(BUILT_IN_STREAM_OPERATORS);
