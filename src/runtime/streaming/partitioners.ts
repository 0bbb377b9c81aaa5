// Output side of a task: one RecordWriter per result partition (downstream edge), routing each record to the
// channel of one consumer subtask (or all) as the edge's partitioning says, and broadcasting barriers and
// "end" to every channel. Records are gathered per channel and sent once per processed batch; the channel
// may batch further and applies backpressure (send waits for credit).
import { InvalidArgumentError } from "../../common/errors.ts";
import type { OutputDescriptor } from "../../generated/records.ts";
import { DEFAULT_MAX_PARALLELISM, keyGroupOf, subtaskForKeyGroup } from "../../state/key-groups.ts";
import type { OutputChannel, StreamElement, StreamRecord } from "./elements.ts";
import { type FunctionLookup, keySelectorUid, requireFunction } from "./operators.ts";

/** The channel of a record, or BROADCAST for all channels. */
export type Partitioner = (record: StreamRecord) => number;
export const BROADCAST = -1;

export interface PartitionerSetup {
  readonly output: OutputDescriptor;
  /** This (producer) subtask and its parallelism. */
  readonly subtask: number;
  readonly parallelism: number;
  readonly functions: FunctionLookup;
  readonly maxParallelism?: number;
}

export function createPartitioner(setup: PartitionerSetup): Partitioner {
  const { output, subtask, parallelism } = setup;
  const consumers = output.consumers;
  const where = `output ${output.sourceVertex} → ${output.downstreamVertex}`;
  if (!Number.isInteger(consumers) || consumers < 1) {
    throw new InvalidArgumentError(`${where}: ${consumers} consumers; a result partition needs at least one`);
  }
  switch (output.partitioning) {
    case "PARTITIONING_FORWARD": {
      if (consumers !== parallelism) {
        throw new InvalidArgumentError(
          `${where}: a forward edge needs equal parallelism on both sides (${parallelism} → ${consumers}); use rebalance`,
        );
      }
      return () => subtask;
    }
    case "PARTITIONING_REBALANCE": {
      // Start at the own index so that producers do not all hit consumer 0 first.
      let next = subtask % consumers;
      return () => {
        const target = next;
        next = next + 1 === consumers ? 0 : next + 1;
        return target;
      };
    }
    case "PARTITIONING_HASH": {
      const maxParallelism = setup.maxParallelism ?? DEFAULT_MAX_PARALLELISM;
      if (consumers > maxParallelism) {
        throw new InvalidArgumentError(
          `${where}: ${consumers} consumers exceed the max parallelism ${maxParallelism} of keyed state`,
        );
      }
      const selector = requireFunction<(r: StreamRecord) => unknown>(
        setup.functions,
        keySelectorUid(output.downstreamVertex),
        `${where} key selector`,
      );
      return (record) =>
        subtaskForKeyGroup(keyGroupOf(selector(record), maxParallelism), consumers, maxParallelism);
    }
    case "PARTITIONING_BROADCAST":
      return () => BROADCAST;
    default:
      throw new InvalidArgumentError(`${where}: partitioning ${output.partitioning} is not supported`);
  }
}

export class RecordWriter {
  private readonly buffers: StreamRecord[][];
  private ended = false;
  private closed = false;

  constructor(
    readonly output: OutputDescriptor,
    private readonly channels: readonly OutputChannel[],
    private readonly partitioner: Partitioner,
  ) {
    this.buffers = channels.map(() => []);
  }

  /** Routes records into the per-channel buffers (sent by flush). */
  add(records: readonly StreamRecord[]): void {
    for (const record of records) {
      const target = this.partitioner(record);
      if (target === BROADCAST) {
        for (const buffer of this.buffers) buffer.push(record);
      } else {
        this.buffers[target]!.push(record);
      }
    }
  }

  /** Sends what is buffered, one "records" element per channel. */
  async flush(signal: AbortSignal): Promise<void> {
    for (let i = 0; i < this.channels.length; i++) {
      const records = this.buffers[i]!;
      if (records.length === 0) continue;
      this.buffers[i] = [];
      await this.channels[i]!.send({ kind: "records", records }, signal);
    }
  }

  /** Flushes, then sends `element` (a barrier or "end") on every channel. */
  async broadcast(element: StreamElement, signal: AbortSignal): Promise<void> {
    if (this.ended) return;
    await this.flush(signal);
    for (const channel of this.channels) await channel.send(element, signal);
    if (element.kind === "end") this.ended = true;
  }

  /** Releases the channels. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const results = await Promise.allSettled(this.channels.map((c) => c.close()));
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined && this.ended) throw failed.reason;
  }
}
