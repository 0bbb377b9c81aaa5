// In-memory channels and wiring for tests of the task runtime (no test framework imports here). The real
// local channel of the exchange (src/exchange/) implements the same contract; this one is the minimum:
// a bounded queue (the capacity stands in for credit), abortable waits, and "the other side is gone".
import { UnavailableError } from "../../common/errors.ts";
import type {
  InputGateDescriptor,
  OutputDescriptor,
  ProducerLocation,
  TaskDescriptor,
} from "../../generated/records.ts";
import type { InputChannel, OutputChannel, StreamElement } from "./elements.ts";

export interface MemoryChannel {
  readonly input: InputChannel;
  readonly output: OutputChannel;
  /** Elements sent and not yet consumed. */
  readonly queued: number;
}

/** A one-way channel holding at most `capacity` elements (barriers and "end" always fit). */
export function createMemoryChannel(capacity = 8): MemoryChannel {
  const queue: StreamElement[] = [];
  let consumerWaiting: (() => void) | undefined;
  let producerWaiting: (() => void) | undefined;
  let producerGone = false;
  let consumerGone = false;

  const waitFor = (signal: AbortSignal, register: (wake: () => void) => void): Promise<void> =>
    new Promise((resolve, reject) => {
      signal.throwIfAborted();
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      register(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  const wakeConsumer = (): void => {
    const wake = consumerWaiting;
    consumerWaiting = undefined;
    wake?.();
  };
  const wakeProducer = (): void => {
    const wake = producerWaiting;
    producerWaiting = undefined;
    wake?.();
  };

  const output: OutputChannel = {
    async send(element, signal) {
      for (;;) {
        signal.throwIfAborted();
        if (consumerGone) throw new UnavailableError("memory channel: the consumer is gone");
        if (element.kind !== "records" || queue.length < capacity) break;
        await waitFor(signal, (wake) => {
          producerWaiting = wake;
        });
      }
      queue.push(element);
      wakeConsumer();
    },
    async close() {
      producerGone = true;
      wakeConsumer();
    },
  };
  const input: InputChannel = {
    async next(signal) {
      for (;;) {
        signal.throwIfAborted();
        const element = queue.shift();
        if (element !== undefined) {
          wakeProducer();
          return element;
        }
        if (producerGone) throw new UnavailableError("memory channel: the producer is gone");
        await waitFor(signal, (wake) => {
          consumerWaiting = wake;
        });
      }
    },
    close() {
      consumerGone = true;
      wakeProducer();
    },
  };
  return {
    input,
    output,
    get queued() {
      return queue.length;
    },
  };
}

/**
 * Channels between the tasks of one in-process job, created on first use from either side: the channel from
 * producer execution P to consumer subtask c of vertex V is the same for P's openOutput and the consumer's
 * openInput.
 */
export class LocalNetwork {
  private readonly channels = new Map<string, MemoryChannel>();

  constructor(private readonly capacity = 8) {}

  openOutput(producer: TaskDescriptor, output: OutputDescriptor, subpartition: number): OutputChannel {
    return this.channel(producer.executionId, output.downstreamVertex, subpartition).output;
  }

  openInput(consumer: TaskDescriptor, gate: InputGateDescriptor, producer: ProducerLocation): InputChannel {
    return this.channel(producer.executionId, gate.targetVertex, consumer.subtask).input;
  }

  private channel(producer: string, vertex: string, subtask: number): MemoryChannel {
    const key = `${producer}|${vertex}|${subtask}`;
    let channel = this.channels.get(key);
    if (channel === undefined) {
      channel = createMemoryChannel(this.capacity);
      this.channels.set(key, channel);
    }
    return channel;
  }
}
