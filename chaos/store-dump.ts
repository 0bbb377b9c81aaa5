// The final state's raw view of the HA store: every key under the cluster's prefix, read with the plain client
// libraries (never through vigil's stores: the checker does not trust the system's opinion of itself).
// ZooKeeper paths that are only directories (no data of their own) are listed too; checkers look for job ids.
import { clusterRoot } from "../src/ha/keys.ts";
import { withEtcd, withZooKeeper, zkChildren } from "./raw-clients.ts";

/** Keys relative to the cluster root ("jobgraphs/j1", "elections/jobmanager/leader", …), sorted. */
export async function listStoreKeys(
  backend: "etcd" | "zookeeper",
  endpoints: readonly string[],
  clusterId: string,
): Promise<string[]> {
  const root = clusterRoot(clusterId);
  const keys = backend === "etcd" ? await etcdKeys(endpoints, `${root}/`) : await zkPaths(endpoints, root);
  return keys.map((k) => k.slice(root.length + 1)).sort();
}

function etcdKeys(endpoints: readonly string[], prefix: string): Promise<string[]> {
  return withEtcd(endpoints, (client) => client.getAll().prefix(prefix).keys());
}

function zkPaths(endpoints: readonly string[], root: string): Promise<string[]> {
  return withZooKeeper(endpoints, async (client) => {
    const out: string[] = [];
    const walk = async (path: string): Promise<void> => {
      for (const child of await zkChildren(client, path)) {
        const full = `${path}/${child}`;
        out.push(full);
        await walk(full);
      }
    };
    await walk(root);
    return out;
  });
}
