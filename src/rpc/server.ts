// A gRPC server for vigil's generated services. Handlers are plain `XService` objects: each method gets the
// decoded request and `{ signal, timeoutMs }` (the signal aborts when the caller cancels or its deadline
// passes) and throws vigil errors, which travel to the client as statuses (errors.ts).
import {
  type handleUnaryCall,
  type MethodDefinition,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { CancelledError, LifecycleError, UnavailableError } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import type {
  AnyMethodTable,
  CallOptions,
  MethodDescriptor,
  MethodTable,
  RpcMethod,
  ServiceOf,
} from "./call.ts";
import { ConnectionLostError, toStatus } from "./errors.ts";

export interface RpcServerOptions {
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
}

type State = "created" | "starting" | "started" | "closed";

export const DEFAULT_SHUTDOWN_GRACE_MS = 2_000;

export class RpcServer {
  private readonly server = new Server();
  private readonly logger: Logger;
  private state: State = "created";
  private starting: Promise<string> | undefined;
  private stopping: Promise<void> | undefined;
  private readonly inFlight = new Set<AbortController>();

  constructor(private readonly options: RpcServerOptions) {
    this.logger = options.logger.child({ component: "rpc-server" });
  }

  /**
   * Registers a service before start(): `server.addService(TaskExecutorMethods, handler)`. The service type is
   * inferred from the table, so a handler class may have more members; `addService<S>(…)` works too.
   */
  addService<T extends AnyMethodTable>(methods: T, handler: ServiceOf<T>): void;
  addService<S>(methods: MethodTable<S>, handler: NoInfer<S>): void;
  addService(methods: AnyMethodTable, handler: object): void {
    if (this.state !== "created")
      throw new LifecycleError("rpc server: addService() must be called before start()");
    const definitions: Record<string, MethodDefinition<unknown, unknown>> = {};
    const implementation: UntypedServiceImplementation = {};
    for (const [name, method] of Object.entries(methods)) {
      const fn = (handler as Record<string, unknown>)[name];
      if (typeof fn !== "function")
        throw new LifecycleError(`rpc server: the handler has no method ${name} for ${method.path}`);
      definitions[name] = definitionOf(method);
      implementation[name] = this.unary(method.path, (request, options) =>
        (fn as RpcMethod<unknown, unknown>).call(handler, request, options),
      );
    }
    this.server.addService(definitions, implementation);
  }

  /**
   * Registers a hand-built grpc-js service (streaming RPCs such as src/exchange's DataExchange) before start().
   * Its handlers own their error mapping and cancellation; graceful shutdown waits for its open calls, so close
   * the service's streams first.
   */
  addGrpcService(definition: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    if (this.state !== "created")
      throw new LifecycleError("rpc server: addGrpcService() must be called before start()");
    this.server.addService(definition, implementation);
  }

  /** Binds (port 0 = any free port); resolves with the bound address "host:port". Once only. */
  start(): Promise<string> {
    if (this.state !== "created")
      return Promise.reject(new LifecycleError(`rpc server: start() called when ${this.state}`));
    this.state = "starting";
    const raw = this.options.host;
    const host = raw.includes(":") && !raw.startsWith("[") ? `[${raw}]` : raw;
    this.starting = new Promise<string>((resolve, reject) => {
      this.server.bindAsync(
        `${host}:${this.options.port}`,
        ServerCredentials.createInsecure(),
        (error, port) => {
          if (error) {
            this.state = "closed";
            reject(
              new UnavailableError(
                `rpc server: cannot listen on ${host}:${this.options.port}: ${error.message}; is the port in use?`,
                error,
              ),
            );
            return;
          }
          const address = `${host}:${port}`;
          if (this.state === "starting") this.state = "started";
          this.logger.info("rpc server listening", { address });
          resolve(address);
        },
      );
    });
    return this.starting;
  }

  /** tryShutdown, then forceShutdown after graceMs (default 2000): in-flight calls get that long. Idempotent. */
  shutdown(graceMs: number = DEFAULT_SHUTDOWN_GRACE_MS): Promise<void> {
    this.stopping ??= this.stop(graceMs);
    return this.stopping;
  }

  private async stop(graceMs: number): Promise<void> {
    const previous = this.state;
    this.state = "closed";
    if (previous === "created") return;
    try {
      await this.starting;
    } catch {
      return; // never bound: nothing to stop
    }
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.logger.warn("rpc server: calls still running after the grace period; forcing shutdown", {
          graceMs,
          inFlight: this.inFlight.size,
        });
        // Cut off mid-work: whatever the handler had done stays done, so the caller must hear "unknown".
        const reason = new ConnectionLostError("rpc server shut down during the call; outcome unknown");
        for (const c of this.inFlight) c.abort(reason);
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  private unary(
    path: string,
    call: (request: unknown, options: CallOptions) => Promise<unknown>,
  ): handleUnaryCall<unknown, unknown> {
    return (grpcCall: ServerUnaryCall<unknown, unknown>, respond: sendUnaryData<unknown>): void => {
      const controller = new AbortController();
      const onCancel = (): void =>
        controller.abort(new CancelledError(`${path}: the caller cancelled the call or its deadline passed`));
      grpcCall.on("cancelled", onCancel);
      this.inFlight.add(controller);
      const done = (): void => {
        grpcCall.off("cancelled", onCancel);
        this.inFlight.delete(controller);
      };
      const deadline = grpcCall.getDeadline();
      const ms = deadline instanceof Date ? deadline.getTime() : deadline;
      const options: CallOptions = Number.isFinite(ms)
        ? { signal: controller.signal, timeoutMs: Math.max(0, ms - Date.now()) }
        : { signal: controller.signal };
      let result: Promise<unknown>;
      try {
        result = Promise.resolve(call(grpcCall.request, options));
      } catch (e: unknown) {
        result = Promise.reject(e);
      }
      result.then(
        (response) => {
          done();
          respond(null, response);
        },
        (e: unknown) => {
          done();
          const s = toStatus(e);
          if (!s.vigil)
            this.logger.error("rpc handler failed with an unexpected error", {
              method: path,
              error: e instanceof Error ? (e.stack ?? e.message) : String(e),
            });
          respond({ code: s.code, details: s.details, metadata: s.metadata }, null);
        },
      );
    };
  }
}

function definitionOf(method: MethodDescriptor<unknown, unknown>): MethodDefinition<unknown, unknown> {
  return {
    path: method.path,
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: unknown) => Buffer.from(method.request.encode(m)),
    requestDeserialize: (b: Buffer) => method.request.decode(b),
    responseSerialize: (m: unknown) => Buffer.from(method.response.encode(m)),
    responseDeserialize: (b: Buffer) => method.response.decode(b),
  };
}
