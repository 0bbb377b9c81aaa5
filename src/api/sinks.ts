// Sink descriptors: plain data, because an application's copy of "vigil" may be a different module instance
// from the environment's (the TaskManager loads each application in its own namespace); the environment
// checks their shape, never their class.
import { InvalidArgumentError } from "../common/errors.ts";

/**
 * Exactly-once files in `path` (a directory; relative paths resolve against the submitting client's working
 * directory): a record is a line, strings as they are and other values as JSON. Lines become visible when the
 * checkpoint after them completes; until then they are in files whose names start with a dot.
 */
export interface FileSink {
  readonly sink: "exactly-once-file";
  readonly path: string;
}

export type Sink = FileSink;

export function fileSink(path: string): FileSink {
  if (typeof path !== "string" || path === "") {
    throw new InvalidArgumentError(
      `fileSink(${JSON.stringify(path)}): the path must be a non-empty string naming a directory`,
    );
  }
  return { sink: "exactly-once-file", path };
}

/** The sink described by `value`, or a message saying what is wrong with it. */
export function readSink(value: unknown): Sink | string {
  if (typeof value !== "object" || value === null) return "the sink must be made by fileSink(dir)";
  const { sink, path } = value as Record<string, unknown>;
  if (sink !== "exactly-once-file") return `unknown sink ${JSON.stringify(sink)}; use fileSink(dir)`;
  if (typeof path !== "string" || path === "") return "fileSink: the path must be a non-empty string";
  return { sink, path };
}
