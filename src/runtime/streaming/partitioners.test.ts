import { describe, expect, it } from "vitest";
import type { OutputDescriptor, Partitioning } from "../../generated/records.ts";
import { keyGroupRange } from "../../state/key-groups.ts";
import { KeyedStateBackend } from "../../state/keyed-state.ts";
import type { StreamElement } from "./elements.ts";
import { keySelectorUid } from "./operators.ts";
import { BROADCAST, createPartitioner, RecordWriter } from "./partitioners.ts";
import { createMemoryChannel } from "./testing.ts";

function output(partitioning: Partitioning, consumers: number): OutputDescriptor {
  return { sourceVertex: "up", downstreamVertex: "down", partitioning, consumers };
}

const byKey = (uid: string): unknown =>
  uid === keySelectorUid("down") ? (r: unknown) => `user-${(r as { user: number }).user}` : undefined;

describe("partitioners", () => {
  it("hash routes every record to the subtask that owns its key's group", () => {
    for (let consumers = 1; consumers <= 7; consumers++) {
      const partition = createPartitioner({
        output: output("PARTITIONING_HASH", consumers),
        subtask: 0,
        parallelism: 2,
        functions: byKey,
      });
      const owners = Array.from(
        { length: consumers },
        (_, i) => new KeyedStateBackend(keyGroupRange(i, consumers)),
      );
      for (let user = 0; user < 300; user++) {
        const record = { user };
        const target = partition(record);
        // The keyed operator computes the same key and accepts it only at the target subtask.
        expect(() => owners[target]!.setCurrentKey(`user-${user}`)).not.toThrow();
        for (const [i, other] of owners.entries()) {
          if (i !== target) expect(() => other.setCurrentKey(`user-${user}`)).toThrow(/does not own/);
        }
      }
    }
  });

  it("forward keeps the subtask, rebalance deals round robin, broadcast goes to all", () => {
    const none = (): unknown => undefined;
    const forward = createPartitioner({
      output: output("PARTITIONING_FORWARD", 3),
      subtask: 2,
      parallelism: 3,
      functions: none,
    });
    expect([forward(1), forward(2)]).toEqual([2, 2]);
    const rebalance = createPartitioner({
      output: output("PARTITIONING_REBALANCE", 3),
      subtask: 1,
      parallelism: 2,
      functions: none,
    });
    expect([1, 2, 3, 4].map(rebalance)).toEqual([1, 2, 0, 1]);
    const broadcast = createPartitioner({
      output: output("PARTITIONING_BROADCAST", 3),
      subtask: 0,
      parallelism: 1,
      functions: none,
    });
    expect(broadcast(1)).toBe(BROADCAST);
  });

  it("refuses a forward edge between different parallelisms and a hash edge without key selector", () => {
    const none = (): unknown => undefined;
    expect(() =>
      createPartitioner({
        output: output("PARTITIONING_FORWARD", 3),
        subtask: 0,
        parallelism: 2,
        functions: none,
      }),
    ).toThrow(/forward edge needs equal parallelism on both sides \(2 → 3\)/);
    expect(() =>
      createPartitioner({
        output: output("PARTITIONING_HASH", 3),
        subtask: 0,
        parallelism: 2,
        functions: none,
      }),
    ).toThrow(/no function is registered as "down:key"/);
  });

  it("RecordWriter flushes records before a broadcast barrier on every channel", async () => {
    const channels = [createMemoryChannel(), createMemoryChannel()];
    const writer = new RecordWriter(
      output("PARTITIONING_REBALANCE", 2),
      channels.map((c) => c.output),
      createPartitioner({
        output: output("PARTITIONING_REBALANCE", 2),
        subtask: 0,
        parallelism: 1,
        functions: () => undefined,
      }),
    );
    const signal = new AbortController().signal;
    writer.add([1, 2, 3]);
    await writer.broadcast({ kind: "barrier", checkpointId: 1n, timestampMs: 0, savepoint: false }, signal);
    await writer.broadcast({ kind: "end" }, signal);
    const read = async (i: number): Promise<StreamElement[]> => {
      const out: StreamElement[] = [];
      for (;;) {
        const e = await channels[i]!.input.next(signal);
        out.push(e);
        if (e.kind === "end") return out;
      }
    };
    expect((await read(0)).map((e) => e.kind)).toEqual(["records", "barrier", "end"]);
    const second = await read(1);
    expect(second[0]).toEqual({ kind: "records", records: [2] });
    await writer.close();
  });
});
