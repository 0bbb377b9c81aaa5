// Reading and writing versioned records: the one place that turns stored bytes into typed records. A record
// that fails to decode, or has a version this vigil does not know, is a CorruptRecordError naming its key —
// never skipped.
import { CorruptRecordError } from "../../common/errors.ts";
import type { MessageCodec } from "../../common/proto-codec.ts";

/** The record format version this vigil writes and reads. */
export const RECORD_VERSION = 1;

export function decodeRecord<T extends { version: number }>(
  codec: MessageCodec<T>,
  key: string,
  value: Uint8Array,
): T {
  let record: T;
  try {
    record = codec.decode(value);
  } catch (e: unknown) {
    throw new CorruptRecordError(
      key,
      `not a valid ${codec.name} (${e instanceof Error ? e.message : String(e)})`,
      e,
    );
  }
  if (record.version !== RECORD_VERSION) {
    throw new CorruptRecordError(
      key,
      record.version > RECORD_VERSION
        ? `${codec.name} has format version ${record.version}, newer than this vigil's ${RECORD_VERSION}: upgrade vigil`
        : `${codec.name} has unknown format version ${record.version}`,
    );
  }
  return record;
}
