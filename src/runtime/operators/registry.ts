// Operator kinds by name. Submission validates each vertex against a registry; a TaskManager builds its
// chain from one. Built-in kinds only for now; the DataStream API (next issue) adds kinds here.
import { InvalidArgumentError } from "../../common/errors.ts";
import type { JobVertex } from "../../generated/records.ts";
import { ConfigReader } from "../config-reader.ts";
import { parseJsonText } from "../json-text.ts";
import { failMap } from "./map-fail.ts";
import type { OperatorContext, OperatorDefinition, Sink, Source, Transform } from "./operator.ts";
import { discardSink } from "./sink-discard.ts";
import { fileSink } from "./sink-file.ts";
import { sequenceSource } from "./source-sequence.ts";

/** A vertex whose config passed validation, ready to instantiate per subtask. */
export type ConfiguredOperator =
  | { readonly role: "source"; readonly kind: string; readonly create: (c: OperatorContext) => Source }
  | { readonly role: "transform"; readonly kind: string; readonly create: (c: OperatorContext) => Transform }
  | { readonly role: "sink"; readonly kind: string; readonly create: (c: OperatorContext) => Sink };

export class OperatorRegistry {
  private readonly byKind = new Map<string, OperatorDefinition>();

  constructor(definitions: readonly OperatorDefinition[]) {
    for (const d of definitions) {
      if (this.byKind.has(d.kind)) throw new Error(`operator kind ${d.kind} is registered twice`);
      this.byKind.set(d.kind, d);
    }
  }

  get(kind: string): OperatorDefinition | undefined {
    return this.byKind.get(kind);
  }

  /** Known kinds, sorted. */
  kinds(): string[] {
    return [...this.byKind.keys()].sort();
  }

  /** The definition of `kind`, or an InvalidArgumentError starting with `where` that lists the known kinds. */
  definition(kind: string, where: string): OperatorDefinition {
    const d = this.byKind.get(kind);
    if (d === undefined) {
      throw new InvalidArgumentError(
        `${where}: operator kind ${JSON.stringify(kind)} is unknown; known kinds: ${this.kinds().join(", ")}`,
      );
    }
    return d;
  }

  /**
   * Validates `vertex`'s kind and config (config_json "" means {}); errors start with `where` and name the
   * key under `config`, e.g. "vertex out: config.path: is required".
   */
  configure(vertex: JobVertex, where: string): ConfiguredOperator {
    const d = this.definition(vertex.operatorKind, where);
    const json = vertex.configJson.trim() === "" ? {} : parseJsonText(vertex.configJson, `${where}: config`);
    return configureParsed(d, ConfigReader.of(json, where, "config"));
  }
}

/** Runs a definition's `configure` over an already parsed config object and refuses unknown keys. */
export function configureParsed(d: OperatorDefinition, config: ConfigReader): ConfiguredOperator {
  let configured: ConfiguredOperator;
  switch (d.role) {
    case "source":
      configured = { role: d.role, kind: d.kind, create: d.configure(config) };
      break;
    case "transform":
      configured = { role: d.role, kind: d.kind, create: d.configure(config) };
      break;
    case "sink":
      configured = { role: d.role, kind: d.kind, create: d.configure(config) };
      break;
  }
  config.finish();
  return configured;
}

export const BUILT_IN_OPERATORS: readonly OperatorDefinition[] = [
  sequenceSource,
  failMap,
  fileSink,
  discardSink,
];

export const builtInOperators = new OperatorRegistry(BUILT_IN_OPERATORS);
