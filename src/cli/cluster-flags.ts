// How a client command reaches the cluster: through leader retrieval on the HA backend (--ha …), or through
// any JobManager's address (--jobmanager), which redirects to the leader. Flags only: clients read no
// environment and no config file.
import { ClusterClient } from "../client/cluster-client.ts";
import { ConfigError } from "../common/errors.ts";
import { createLogger } from "../common/logger.ts";
import type { HaConfig } from "../config/ha-config.ts";
import type { CallOptions } from "../rpc/call.ts";
import { type Flags, secondsFlag } from "./args.ts";
import { haConfigFrom, haFlags } from "./ha-flags.ts";

export const clusterFlags: Flags = {
  jobmanager: {
    type: "string",
    value: "HOST:PORT[,…]",
    help: "any JobManager(s) of the cluster; the client follows redirects to the leader",
  },
  ...haFlags,
  timeout: {
    type: "string",
    value: "SECONDS",
    help: "give up after this, redirects and retries included",
    default: "10",
  },
};

export const clusterFlagsHelp = [
  "Say where the cluster is with either --jobmanager (any JobManager; standbys redirect to the leader) or",
  "--ha, --ha-endpoints and --cluster-id (the leader is found through leader retrieval).",
].join("\n");

/** Where the cluster is, validated before anything is read or sent. */
export interface ClusterTarget {
  readonly via: { readonly addresses: readonly string[] } | { readonly ha: HaConfig };
  /** The --timeout of each call. */
  readonly call: CallOptions;
  connect(): ClusterClient;
}

const ADDRESS = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):(\d{1,5})$/;

export function clusterTargetFrom(
  values: Record<string, string | boolean | undefined>,
  command: string,
): ClusterTarget {
  const timeoutMs = secondsFlag(values.timeout ?? "10", "timeout")!;
  const logger = createLogger("warn");
  const list = values.jobmanager;
  const haGiven = ["ha", "ha-endpoints", "cluster-id"].filter((k) => values[k] !== undefined);
  if (typeof list === "string") {
    if (haGiven.length > 0) {
      throw new ConfigError(
        `--jobmanager and --${haGiven[0]} both say where the cluster is; give one of them`,
      );
    }
    const addresses = list
      .split(",")
      .map((a) => a.trim())
      .filter((a) => a !== "");
    if (addresses.length === 0) throw new ConfigError("--jobmanager: no address given; use HOST:PORT[,…]");
    for (const a of addresses) {
      const m = ADDRESS.exec(a);
      const port = m ? Number(m[2]) : 0;
      if (!m || port < 1 || port > 65535) {
        throw new ConfigError(`--jobmanager: ${JSON.stringify(a)} is not HOST:PORT (port 1-65535)`);
      }
    }
    return {
      via: { addresses },
      call: { timeoutMs },
      connect: () => ClusterClient.viaAddresses(addresses, logger),
    };
  }
  if (haGiven.length === 0) {
    throw new ConfigError(
      `say where the cluster is: --jobmanager HOST:PORT[,…], or --ha etcd|zookeeper --ha-endpoints HOST:PORT[,…] --cluster-id C; see vigil ${command} --help`,
    );
  }
  const ha = haConfigFrom(values);
  return { via: { ha }, call: { timeoutMs }, connect: () => ClusterClient.viaHa(ha, logger) };
}

/** Runs `body` with a connected client and always closes it. */
export async function withCluster<T>(
  target: ClusterTarget,
  body: (client: ClusterClient) => Promise<T>,
): Promise<T> {
  const client = target.connect();
  try {
    return await body(client);
  } finally {
    await client.close();
  }
}

/** Exactly `names.length` positionals, else a usage error that names what is missing or extra. */
export function positionalsOf(
  positionals: readonly string[],
  names: readonly string[],
  command: string,
): string[] {
  if (positionals.length < names.length) {
    throw new ConfigError(`${names[positionals.length]} is required; see vigil ${command} --help`);
  }
  if (positionals.length > names.length) {
    throw new ConfigError(
      `unexpected argument ${JSON.stringify(positionals[names.length])}; see vigil ${command} --help`,
    );
  }
  return [...positionals];
}
