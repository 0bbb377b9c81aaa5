// The HA flags shared by every command that talks to etcd / ZooKeeper, compiled into one validated HaConfig.
import { compileHaConfig, type HaConfig, type HaOptions } from "../config/ha-config.ts";
import { type Flags, secondsFlag } from "./args.ts";

export const haFlags: Flags = {
  ha: { type: "string", value: "etcd|zookeeper", help: "the HA backend" },
  "ha-endpoints": { type: "string", value: "HOST:PORT[,…]", help: "etcd members / ZooKeeper servers" },
  "cluster-id": { type: "string", value: "C", help: "cluster id; namespaces every key (/vigil/C/…)" },
  "connect-timeout": {
    type: "string",
    value: "SECONDS",
    help: "give up reaching the backend after this",
    default: "5",
  },
};

export function haConfigFrom(values: Record<string, string | boolean | undefined>, ttlMs?: number): HaConfig {
  const str = (k: string): string | undefined =>
    typeof values[k] === "string" ? (values[k] as string) : undefined;
  const connect = secondsFlag(values["connect-timeout"], "connect-timeout");
  const options: HaOptions = {};
  const backend = str("ha");
  const endpoints = str("ha-endpoints");
  const clusterId = str("cluster-id");
  if (backend !== undefined) options.backend = backend;
  if (endpoints !== undefined) options.endpoints = endpoints;
  if (clusterId !== undefined) options.clusterId = clusterId;
  if (ttlMs !== undefined) options.ttlMs = ttlMs;
  if (connect !== undefined) {
    options.connectTimeoutMs = connect;
    options.requestTimeoutMs = connect;
  }
  return compileHaConfig(options, {
    backend: "--ha",
    endpoints: "--ha-endpoints",
    clusterId: "--cluster-id",
    ttlMs: "--ttl",
    connectTimeoutMs: "--connect-timeout",
  });
}
