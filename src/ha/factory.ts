// The only place that knows every backend. Everything else takes an HaBackend.
import { ConfigError } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import type { HaConfig } from "../config/ha-config.ts";
import type { HaBackend } from "./backend.ts";
import { createEtcdBackend } from "./etcd/index.ts";
import { MemoryCoordinator, MemoryHaBackend } from "./memory/index.ts";
import { createZooKeeperBackend } from "./zookeeper/index.ts";

/** A new, unconnected backend client. `memory` gets a private coordinator unless one is passed. */
export function createHaBackend(config: HaConfig, logger: Logger, memory?: MemoryCoordinator): HaBackend {
  switch (config.backend) {
    case "etcd":
      return createEtcdBackend(config, logger);
    case "zookeeper":
      return createZooKeeperBackend(config, logger);
    case "memory":
      return new MemoryHaBackend(memory ?? new MemoryCoordinator(), config);
    default:
      throw new ConfigError(`unknown HA backend ${JSON.stringify(config.backend satisfies never)}`);
  }
}
