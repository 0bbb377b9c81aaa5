// Fixtures for the contract suites on real servers started by the harness.
import { silentLogger } from "../../src/common/logger.ts";
import { compileHaConfig } from "../../src/config/ha-config.ts";
import type { HaBackend } from "../../src/ha/backend.ts";
import { createHaBackend } from "../../src/ha/factory.ts";
import { type ServerCluster, startEtcd, startZooKeeper } from "../harness/servers.ts";
import type { ProcessFixture } from "./process-contract.ts";

/** In-process clients use a short TTL so that the suites stay fast; the process suite uses 2 s. */
const CLIENT_TTL_MS = { etcd: 1_000, zookeeper: 2_000 } as const;

async function connect(
  kind: "etcd" | "zookeeper",
  cluster: ServerCluster,
  clusterId: string,
): Promise<HaBackend> {
  const config = compileHaConfig({
    backend: kind,
    endpoints: cluster.endpoints,
    clusterId,
    ttlMs: CLIENT_TTL_MS[kind],
    requestTimeoutMs: 1_000,
    connectTimeoutMs: 3_000,
  });
  const backend = createHaBackend(config, silentLogger);
  await backend.connect();
  return backend;
}

/** A fixture over `cluster()` (the shared single-member cluster, started by the test file). */
export function realFixture(kind: "etcd" | "zookeeper", cluster: () => ServerCluster): ProcessFixture {
  return {
    kind,
    ttlMs: CLIENT_TTL_MS[kind],
    get cluster() {
      return cluster();
    },
    client: (clusterId) => connect(kind, cluster(), clusterId),
    clientOf: (other, clusterId) => connect(kind, other, clusterId),
    startTriple: () =>
      kind === "etcd" ? startEtcd({ members: 3 }) : startZooKeeper({ servers: 3, tickTimeMs: 1_000 }),
  };
}
