// The API applications import as "vigil" (the client and the TaskManagers map that specifier here, see
// loader.ts). Everything an application reaches at run time comes through the environment main receives;
// this module exports types and a few plain-data helpers, so an application's copy of it (TaskManagers load
// each application in its own module namespace) never needs to be the environment's copy.
export type {
  DataStream,
  DataStreamSink,
  KeyedStream,
  NumericField,
  SingleOutputStreamOperator,
} from "./datastream.ts";
export type {
  ApplicationModule,
  CheckpointingOptions,
  JobClient,
  JobExecutionResult,
  RestartStrategy,
  SequenceOptions,
  StreamExecutionEnvironment,
  TextFilesOptions,
} from "./environment.ts";
export type {
  Collector,
  Key,
  KeyedProcessContext,
  KeyedProcessFunction,
  ProcessElement,
  ValueState,
} from "./functions.ts";
export type { IntegerRange, NumberRange } from "./parameters.ts";
export { ParameterTool } from "./parameters.ts";
export type { FileSink, Sink } from "./sinks.ts";
export { fileSink } from "./sinks.ts";
