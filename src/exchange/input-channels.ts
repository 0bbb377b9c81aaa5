// Which channel a consumer subtask reads a producer through: local when the producer runs in this TaskManager
// (Flink's LocalInputChannel), a ReadPartition stream otherwise. The producer is here when its partition is
// registered (or was released) in this process's ExchangeService, or when the descriptor names this
// TaskManager's own address: a producer deployed here that has not registered yet is waited for locally, with
// the stream request's timeout, instead of through a loopback connection to this very process.
import type { InputChannel } from "../runtime/streaming/elements.ts";
import type { ExchangeService } from "./exchange-service.ts";
import { connectRemoteChannel, type ExchangeClients } from "./remote-channel.ts";

export interface ConsumerSide {
  /** This TaskManager's DataExchange service. */
  readonly exchange: ExchangeService;
  /** Connections to other TaskManagers. */
  readonly clients: ExchangeClients;
  /** The address this TaskManager advertises ("host:port"), once it has one. */
  readonly localAddress: () => string | undefined;
  /** Local channels pass records by reference (Flink's object reuse); default false: they copy them. */
  readonly objectReuse?: boolean;
}

export interface InputChannelRequest {
  /** The producer's TaskManager, "host:port", as the task descriptor names it. */
  readonly address: string;
  readonly producerExecutionId: string;
  readonly downstreamVertex: string;
  readonly subpartition: number;
  /** The leader epoch that deployed this consumer. */
  readonly epoch: bigint;
  /** A remote channel's credit (buffers on the wire or waiting at the consumer); ≥ 1. */
  readonly creditBuffers: number;
  /** Aborting it closes the channel. */
  readonly signal?: AbortSignal;
}

/** Opens the channel; failures surface in next(), with the same codes for either kind. */
export function openInputChannel(side: ConsumerSide, request: InputChannelRequest): InputChannel {
  const { exchange } = side;
  const local =
    exchange.holds(request.producerExecutionId, request.downstreamVertex) ||
    request.address === side.localAddress();
  if (local) {
    return exchange.openLocalChannel({
      producerExecutionId: request.producerExecutionId,
      downstreamVertex: request.downstreamVertex,
      subpartition: request.subpartition,
      epoch: request.epoch,
      objectReuse: side.objectReuse ?? false,
      ...(request.signal === undefined ? {} : { signal: request.signal }),
    });
  }
  return connectRemoteChannel({ ...request, clients: side.clients });
}
