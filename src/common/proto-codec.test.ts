import { describe, expect, it } from "vitest";
import { codecs, type JobGraphRecord } from "../generated/records.ts";

describe("generated record codecs", () => {
  it("round-trips 64-bit integers beyond 2^53 as bigint", () => {
    const info = {
      version: 1,
      name: "jm-1",
      address: "127.0.0.1:6123",
      epoch: 2n ** 60n + 7n,
      sessionId: "s",
    };
    expect(codecs.LeaderInformation.decode(codecs.LeaderInformation.encode(info))).toEqual(info);
  });

  it("leaves absent message fields out and keeps the oneof member that was set", () => {
    const rec: JobGraphRecord = {
      version: 1,
      jobId: "j",
      submittedAtMs: 5n,
      graphBlob: { uri: "file:///tmp/x", size: 3n, sha256: "ab" },
    };
    const back = codecs.JobGraphRecord.decode(codecs.JobGraphRecord.encode(rec));
    expect(back).toEqual(rec);
    expect("graph" in back).toBe(false);
  });

  it("refuses a number where a 64-bit field wants a bigint, naming the field", () => {
    const bad = { version: 1, next: 3 } as unknown as { version: number; next: bigint };
    expect(() => codecs.CheckpointCounter.encode(bad)).toThrow(/vigil\.ha\.v1\.CheckpointCounter\.next/);
  });

  it("throws on bytes that are not a valid encoding", () => {
    expect(() => codecs.JobResult.decode(Uint8Array.from([0x0a, 0xff, 0xff, 0xff]))).toThrow();
  });
});
