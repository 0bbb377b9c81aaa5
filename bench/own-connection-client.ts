// An RPC client with a TCP connection of its own. grpc-js pools connections process-wide by target and
// channel options, so every `createClient` (src/rpc/client.ts) to one address shares one HTTP/2 connection:
// 200 of them in one process are one connection to the server, not the 200 that 200 TaskManager processes
// open. The scale benchmark simulates TaskManagers in one process, so it needs a private pool per client.
// Same calls and error mapping as createClient; no abort signal (the benchmark never cancels).
import { Client, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { LifecycleError } from "../src/common/errors.ts";
import type { AnyMethodTable, CallOptions, MethodTable } from "../src/rpc/call.ts";
import type { RpcClient } from "../src/rpc/client.ts";
import { fromStatus } from "../src/rpc/errors.ts";

export function ownConnectionClient<S>(
  methods: MethodTable<S>,
  address: string,
  defaultTimeoutMs: number,
): RpcClient<S> {
  const grpc = new Client(address, credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
  let closed = false;
  const client: Record<string, unknown> = {
    address,
    close(): void {
      if (closed) return;
      closed = true;
      grpc.close();
    },
  };
  for (const [name, method] of Object.entries(methods as AnyMethodTable)) {
    const label = method.path.slice(method.path.lastIndexOf(".") + 1);
    client[name] = (request: unknown, options: CallOptions = {}): Promise<unknown> => {
      if (closed) return Promise.reject(new LifecycleError(`${label} to ${address}: the client is closed`));
      const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
      return new Promise((resolve, reject) => {
        grpc.makeUnaryRequest(
          method.path,
          (m: unknown) => Buffer.from(method.request.encode(m)),
          (b: Buffer) => method.response.decode(b),
          request,
          new Metadata(),
          { deadline: Date.now() + timeoutMs },
          (error: ServiceError | null, response?: unknown) => {
            if (error)
              reject(fromStatus(error, { method: label, address, timeoutMs, cancelledByCaller: false }));
            else resolve(response);
          },
        );
      });
    };
  }
  return client as RpcClient<S>;
}
