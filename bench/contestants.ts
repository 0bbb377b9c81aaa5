// The contestants of the handover benchmarks, each in its own namespace (cluster id, election name, lock
// name or znode path) so that they never see each other's keys, even on the same server in the same run.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Etcd3 } from "etcd3";
import { Child } from "./children.ts";
import type { Contestant } from "./failover.ts";
import { etcdCount, type ZkRaw } from "./raw-clients.ts";

export const REPO_ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
export const TTL_SECONDS = 2;

const event =
  (name: string) =>
  (line: { json: Record<string, unknown> | undefined }): boolean =>
    line.json?.["event"] === name;

function tsChild(label: string, file: string, args: readonly string[]): Child {
  // Never `npx tsx`: a signal to the npx process would not reach the contender.
  return new Child(label, process.execPath, ["--import", "tsx", join(REPO_ROOT, file), ...args], {
    cwd: REPO_ROOT,
  });
}

export interface Coordinator {
  readonly backend: "etcd" | "zookeeper";
  readonly endpoints: readonly string[];
  readonly etcd?: Etcd3;
  readonly zk?: ZkRaw;
}

/** `vigil elect` as a user runs it, on either backend. `ns` makes the cluster id unique. */
export function vigilContestant(co: Coordinator, ns: string): Contestant {
  const clusterId = `bench-${ns}`;
  const electionDir = `/vigil/${clusterId}/elections/diagnostic`;
  return {
    label: "vigil elect",
    backend: co.backend,
    spawn: (name) =>
      tsChild(`vigil ${name}`, "src/cli/main.ts", [
        "elect",
        ...["--ha", co.backend, "--ha-endpoints", co.endpoints.join(",")],
        ...["--cluster-id", clusterId, "--name", name, "--ttl", String(TTL_SECONDS)],
      ]),
    isGrant: event("granted"),
    queued: () =>
      co.etcd ? etcdCount(co.etcd, `${electionDir}/campaign/`) : co.zk!.countChildren(`${electionDir}/latch`),
  };
}

/** etcd3's Election class (bench/contenders/etcd3-election.ts). */
export function etcd3ElectionContestant(co: Coordinator, ns: string): Contestant {
  const election = `bench-${ns}`;
  return {
    label: "etcd3 Election",
    backend: "etcd",
    spawn: (name) =>
      tsChild(`etcd3-election ${name}`, "bench/contenders/etcd3-election.ts", [
        ...["--endpoints", co.endpoints.join(","), "--election", election],
        ...["--name", name, "--ttl", String(TTL_SECONDS)],
      ]),
    isGrant: event("elected"),
    queued: () => etcdCount(co.etcd!, `election/${election}/`),
  };
}

/** `etcdctl lock --ttl 2 NAME`: it prints the lock key once it holds the lock. */
export function etcdctlLockContestant(co: Coordinator, ns: string): Contestant {
  const lock = `bench-lock-${ns}`;
  return {
    label: `etcdctl lock --ttl ${TTL_SECONDS}`,
    backend: "etcd",
    spawn: (name) =>
      new Child(
        `etcdctl ${name}`,
        "etcdctl",
        [`--endpoints=${co.endpoints.join(",")}`, "lock", "--ttl", String(TTL_SECONDS), lock],
        { env: { ...process.env, ETCDCTL_API: "3" } },
      ),
    isGrant: (line) => line.text.startsWith(`${lock}/`),
    queued: () => etcdCount(co.etcd!, `${lock}/`),
  };
}

/** The plain ephemeral-sequential recipe on node-zookeeper-client (bench/contenders/zk-recipe.ts). */
export function zkRecipeContestant(co: Coordinator, ns: string): Contestant {
  const path = `/bench-recipe/${ns}`;
  return {
    label: "node-zookeeper-client recipe",
    backend: "zookeeper",
    spawn: (name) =>
      tsChild(`zk-recipe ${name}`, "bench/contenders/zk-recipe.ts", [
        ...["--endpoints", co.endpoints.join(","), "--path", path, "--name", name],
        ...["--timeout-ms", String(TTL_SECONDS * 1000)],
      ]),
    isGrant: event("elected"),
    queued: () => co.zk!.countChildren(path),
  };
}
