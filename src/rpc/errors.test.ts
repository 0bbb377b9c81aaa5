import { Metadata, status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  DeadlineExceededError,
  type ErrorCode,
  InternalError,
  InvalidArgumentError,
  NotLeaderError,
  StaleEpochError,
  UnavailableError,
  VigilError,
} from "../common/errors.ts";
import {
  ConnectionLostError,
  ERROR_CODE_KEY,
  fromStatus,
  LEADER_ADDRESS_KEY,
  RemoteError,
  STATUS_OF_CODE,
  toStatus,
} from "./errors.ts";

const site = {
  method: "TaskExecutor/DeployTask",
  address: "10.0.0.7:6124",
  timeoutMs: 250,
  cancelledByCaller: false,
};

describe("vigil error <-> gRPC status", () => {
  it("maps every vigil code to its status and back to the same code and message", () => {
    for (const code of Object.keys(STATUS_OF_CODE) as ErrorCode[]) {
      const s = toStatus(new VigilError(code, `something about ${code}`));
      expect(s.code).toBe(STATUS_OF_CODE[code]);
      expect(s.metadata.get(ERROR_CODE_KEY)).toEqual([code]);
      const back = fromStatus(s, site);
      expect(back.code).toBe(code);
      if (code !== "NOT_LEADER") expect(back.message).toBe(`something about ${code}`);
    }
  });

  it("uses the agreed statuses for the families callers branch on", () => {
    expect(STATUS_OF_CODE).toMatchObject({
      NOT_FOUND: status.NOT_FOUND,
      ALREADY_EXISTS: status.ALREADY_EXISTS,
      INVALID_ARGUMENT: status.INVALID_ARGUMENT,
      CONFIG: status.INVALID_ARGUMENT,
      NOT_LEADER: status.FAILED_PRECONDITION,
      STALE_FENCE: status.FAILED_PRECONDITION,
      STALE_EPOCH: status.FAILED_PRECONDITION,
      LEADERSHIP_LOST: status.FAILED_PRECONDITION,
      VERSION_CONFLICT: status.ABORTED,
      RECORD_TOO_LARGE: status.RESOURCE_EXHAUSTED,
      BACKEND_UNAVAILABLE: status.UNAVAILABLE,
    });
  });

  it("keeps a NotLeaderError's leader address, and its absence", () => {
    const withAddress = toStatus(new NotLeaderError("10.0.0.1:6123"));
    expect(withAddress.metadata.get(LEADER_ADDRESS_KEY)).toEqual(["10.0.0.1:6123"]);
    const back = fromStatus(withAddress, site);
    expect(back).toBeInstanceOf(NotLeaderError);
    expect((back as NotLeaderError).leaderAddress).toBe("10.0.0.1:6123");
    const none = fromStatus(toStatus(new NotLeaderError(undefined)), site);
    expect((none as NotLeaderError).leaderAddress).toBeUndefined();
  });

  it("brings remote errors back as the real class when it is message-only, else as RemoteError", () => {
    expect(fromStatus(toStatus(new InvalidArgumentError("cycle at v1")), site)).toBeInstanceOf(
      InvalidArgumentError,
    );
    expect(fromStatus(toStatus(new UnavailableError("etcd down")), site)).toBeInstanceOf(UnavailableError);
    const stale = fromStatus(toStatus(new StaleEpochError(3n, 5n, "deploy j/v/0/0@3")), site);
    expect(stale).toBeInstanceOf(RemoteError);
    expect(stale.code).toBe("STALE_EPOCH");
    expect(stale.message).toBe(new StaleEpochError(3n, 5n, "deploy j/v/0/0@3").message);
    expect((stale as RemoteError).address).toBe(site.address);
  });

  it("turns an unknown handler error into INTERNAL and says it was not a vigil error", () => {
    const s = toStatus(new TypeError("x is undefined"));
    expect(s).toMatchObject({ code: status.INTERNAL, vigil: false });
    expect(s.details).toContain("x is undefined");
    expect(fromStatus(s, site)).toBeInstanceOf(InternalError);
  });

  it("maps transport failures without a vigil code by status, naming method and address", () => {
    const bare = (code: status) => ({ code, details: "transport detail", metadata: new Metadata() });
    const deadline = fromStatus(bare(status.DEADLINE_EXCEEDED), site);
    expect(deadline).toBeInstanceOf(DeadlineExceededError);
    expect(deadline.message).toBe(
      "TaskExecutor/DeployTask to 10.0.0.7:6124: no answer within 250 ms; outcome unknown",
    );
    // The deadline passed before the call had a connection (real grpc-js 1.14 details): never sent.
    const unsent = fromStatus(
      {
        code: status.DEADLINE_EXCEEDED,
        details:
          "Deadline exceeded after 0.008s,name resolution: 0.005s,metadata filters: 0.001s,Waiting for LB pick",
        metadata: new Metadata(),
      },
      site,
    );
    expect(unsent).toBeInstanceOf(UnavailableError);
    expect(unsent.message).toContain("not delivered");
    const sent = fromStatus(
      {
        code: status.DEADLINE_EXCEEDED,
        details:
          "Deadline exceeded after 0.298s,name resolution: 0.003s,LB pick: 0.005s,remote_addr=127.0.0.1:43275",
        metadata: new Metadata(),
      },
      site,
    );
    expect(sent).toBeInstanceOf(DeadlineExceededError);
    expect(fromStatus(bare(status.CANCELLED), { ...site, cancelledByCaller: true })).toBeInstanceOf(
      CancelledError,
    );
    expect(fromStatus(bare(status.RESOURCE_EXHAUSTED), site)).toBeInstanceOf(InternalError);
  });

  it("tells a call that was not delivered from one that was sent and then lost (outcome unknown)", () => {
    const at = (code: status, details: string) =>
      fromStatus({ code, details, metadata: new Metadata() }, site);
    for (const details of [
      "No connection established. Last error: Error: connect ECONNREFUSED 10.0.0.7:6124. Resolution note: ",
      "Channel closed before call started",
      "Stream refused by server",
      "Name resolution failed for target dns:jm-0:6124",
    ]) {
      const down = at(status.UNAVAILABLE, details);
      expect(down).toBeInstanceOf(UnavailableError);
      expect(down).not.toBeInstanceOf(ConnectionLostError);
      expect(down.message).toBe(
        `TaskExecutor/DeployTask to 10.0.0.7:6124: unavailable, not delivered (${details}); is the process at 10.0.0.7:6124 running?`,
      );
    }
    for (const [code, details] of [
      [status.UNAVAILABLE, "Connection dropped"],
      [status.UNAVAILABLE, "read ECONNRESET"],
      [status.UNAVAILABLE, "Write error: write EPIPE"],
      [status.UNAVAILABLE, "Received HTTP status code 503"],
      [status.CANCELLED, "Call cancelled"],
      [status.INTERNAL, "Received RST_STREAM with code 2 (Internal server error)"],
    ] as const) {
      const lost = at(code, details);
      expect(lost).toBeInstanceOf(ConnectionLostError);
      expect(lost).toBeInstanceOf(UnavailableError);
      expect((lost as ConnectionLostError).outcomeUnknown).toBe(true);
      expect(lost.message).toMatch(/^TaskExecutor\/DeployTask to 10\.0\.0\.7:6124: .*; outcome unknown$/);
      expect(lost.message).toContain(details);
    }
    expect(at(status.INTERNAL, "Failed to parse server response")).toBeInstanceOf(InternalError);
  });

  it("carries an unknown outcome across the wire, and a plain remote UNAVAILABLE stays plain", () => {
    const lost = fromStatus(
      toStatus(new ConnectionLostError("deploy to tm-1: connection lost; outcome unknown")),
      site,
    );
    expect(lost).toBeInstanceOf(ConnectionLostError);
    expect(lost.message).toBe("deploy to tm-1: connection lost; outcome unknown");
    const plain = fromStatus(toStatus(new UnavailableError("no TaskManager has a free slot")), site);
    expect(plain).toBeInstanceOf(UnavailableError);
    expect(plain).not.toBeInstanceOf(ConnectionLostError);
  });
});
