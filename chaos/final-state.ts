// What the checkers judge besides the history, read from the cluster once a run is over: the jobs the leader
// lists, the keys in the HA store (read with the plain client libraries, store-dump.ts), the blobs left in
// file storage, and every event each process printed. A read that fails leaves its part undefined: a checker
// that needs it then cannot decide, instead of judging a state nobody saw.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { ClusterClient } from "../src/client/cluster-client.ts";
import { monotonicNow } from "../src/common/clock.ts";
import type { ChaosCluster } from "./nemesis/index.ts";
import { listStoreKeys } from "./store-dump.ts";
import type { ClusterEvent, FinalState } from "./types.ts";

export async function readFinalState(
  backend: "etcd" | "zookeeper",
  cluster: ChaosCluster,
  client: ClusterClient,
  outputs: FinalState["outputs"],
): Promise<FinalState> {
  const jobs = await client
    .listJobs({}, { timeoutMs: 15_000 })
    .then((r) => r.jobs.map((j) => ({ job: j.jobId, state: j.state.replace(/^JOB_STATE_/, "") })))
    .catch(() => undefined);
  const storeKeys = await listStoreKeys(
    backend,
    cluster.coordinator.endpoints,
    cluster.local.clusterId,
  ).catch(() => undefined);
  const blobs = await readdir(join(cluster.local.storageDir, "blobs")).catch((e: unknown) =>
    (e as NodeJS.ErrnoException).code === "ENOENT" ? [] : undefined,
  );
  return { at: performance.timeOrigin + monotonicNow(), jobs, storeKeys, blobs, outputs };
}

/** Every event of every process, with its source, and an `exited` line for each process seen to end; by `at`. */
export function clusterEvents(cluster: ChaosCluster): ClusterEvent[] {
  return cluster.local.members
    .flatMap((m) => {
      const events = m.proc.events.map((e) => ({ ...e, source: m.name, role: m.role }) as ClusterEvent);
      const exitedAt = cluster.local.exitedAt(m);
      if (exitedAt === undefined) return events;
      // exitedAt is Date.now(); events use timeOrigin + performance.now(): the same wall scale.
      return [...events, { event: "exited", at: exitedAt, source: m.name, role: m.role } as ClusterEvent];
    })
    .filter((e) => typeof e["at"] === "number" || typeof e["at"] === "string")
    .sort((a, b) => Number(a["at"]) - Number(b["at"]));
}
