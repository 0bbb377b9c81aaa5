// A gRPC server that serves only DataExchange, for tests and for a TaskManager that gives data its own port.
// (src/rpc's RpcServer serves unary methods only; streams are long-lived, so shutting down closes the
// service first, which ends every stream, and only then asks grpc-js to stop.)
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { LifecycleError, UnavailableError } from "../common/errors.ts";
import type { ExchangeService } from "./exchange-service.ts";

export interface ExchangeServerOptions {
  readonly host: string;
  /** 0 = any free port. */
  readonly port: number;
}

type State = "created" | "started" | "closed";

export class ExchangeServer {
  private readonly server = new Server();
  private state: State = "created";
  private starting: Promise<string> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly options: ExchangeServerOptions,
    private readonly service: ExchangeService,
  ) {}

  /** Binds and serves; resolves with "host:port". Once only. */
  start(): Promise<string> {
    if (this.state !== "created")
      return Promise.reject(new LifecycleError(`exchange server: start() called when ${this.state}`));
    this.state = "started";
    this.service.addTo(this.server);
    const raw = this.options.host;
    const host = raw.includes(":") && !raw.startsWith("[") ? `[${raw}]` : raw;
    this.starting = new Promise<string>((resolve, reject) => {
      this.server.bindAsync(
        `${host}:${this.options.port}`,
        ServerCredentials.createInsecure(),
        (error, port) => {
          if (error)
            reject(
              new UnavailableError(
                `exchange server: cannot listen on ${host}:${this.options.port}: ${error.message}; is the port in use?`,
                error,
              ),
            );
          else resolve(`${host}:${port}`);
        },
      );
    });
    return this.starting;
  }

  /** Closes the service (ends its streams), then stops: tryShutdown, forceShutdown after graceMs. Idempotent. */
  shutdown(graceMs = 1_000): Promise<void> {
    this.stopping ??= this.stop(graceMs);
    return this.stopping;
  }

  private async stop(graceMs: number): Promise<void> {
    const previous = this.state;
    this.state = "closed";
    this.service.close();
    if (previous === "created") return;
    try {
      await this.starting;
    } catch {
      return;
    }
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}
