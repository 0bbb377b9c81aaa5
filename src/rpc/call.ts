// Options of one RPC, shared by both sides: a client passes them to a call; a server hands its handler the
// call's cancellation and remaining deadline in the same shape, so a handler can be called in-process too.
import type { MessageCodec } from "../common/proto-codec.ts";

export interface CallOptions {
  /** Aborts the call (client) / aborted when the caller cancelled or its deadline passed (server). */
  readonly signal?: AbortSignal;
  /** Deadline of the call, relative, in ms. Clients default to DEFAULT_CALL_TIMEOUT_MS; never unbounded. */
  readonly timeoutMs?: number;
}

export const DEFAULT_CALL_TIMEOUT_MS = 5_000;

/** One unary RPC of a generated method table: its gRPC path and the codecs of both messages. */
export interface MethodDescriptor<Req, Res> {
  readonly path: string;
  readonly request: MessageCodec<Req>;
  readonly response: MessageCodec<Res>;
}

/** The shape of an RPC method of a generated `XService` interface. */
export type RpcMethod<Req, Res> = (request: Req, options?: CallOptions) => Promise<Res>;

/** The generated method table of service `S`: `DispatcherMethods` is a `MethodTable<DispatcherService>`. */
export type MethodTable<S> = {
  readonly [K in keyof S]: S[K] extends RpcMethod<infer Req, infer Res> ? MethodDescriptor<Req, Res> : never;
};

/** Any generated method table; `ServiceOf<typeof XMethods>` is the service it describes. */
export type AnyMethodTable = { readonly [method: string]: MethodDescriptor<unknown, unknown> };

/** The service interface a method table describes (structurally the generated `XService`). */
export type ServiceOf<T extends AnyMethodTable> = {
  [K in keyof T]: T[K] extends MethodDescriptor<infer Req, infer Res> ? RpcMethod<Req, Res> : never;
};
