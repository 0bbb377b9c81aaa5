// The published leader information as every backend stores it: a versioned LeaderInformation record.
import { codecs } from "../generated/records.ts";
import type { LeaderInfo } from "./election-driver.ts";
import type { LeaderSession } from "./leader-session.ts";
import { decodeRecord, RECORD_VERSION } from "./stores/records.ts";

export function encodeLeaderInfo(
  session: LeaderSession,
  info: { name: string; address: string },
): Uint8Array {
  return codecs.LeaderInformation.encode({
    version: RECORD_VERSION,
    name: info.name,
    address: info.address,
    epoch: session.epoch,
    sessionId: session.id,
  });
}

/** CorruptRecordError naming `key` when the bytes are not a LeaderInformation record this vigil can read. */
export function decodeLeaderInfo(key: string, value: Uint8Array): LeaderInfo {
  const r = decodeRecord(codecs.LeaderInformation, key, value);
  return { name: r.name, address: r.address, epoch: r.epoch, sessionId: r.sessionId };
}
