// The final state's raw view of the HA store: every key under the cluster's prefix, read with the plain client
// libraries (never through vigil's stores: the checker does not trust the system's opinion of itself).
// ZooKeeper paths that are only directories (no data of their own) are listed too; checkers look for job ids.
import { Etcd3 } from "etcd3";
import zookeeper from "node-zookeeper-client";
import { clusterRoot } from "../src/ha/keys.ts";

const ZK_CONNECT_MS = 5_000;

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

async function etcdKeys(endpoints: readonly string[], prefix: string): Promise<string[]> {
  const client = new Etcd3({ hosts: endpoints.map((e) => `http://${e}`) });
  try {
    return await client.getAll().prefix(prefix).keys();
  } finally {
    client.close();
  }
}

async function zkPaths(endpoints: readonly string[], root: string): Promise<string[]> {
  const client = zookeeper.createClient(endpoints.join(","), { sessionTimeout: 10_000 });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.close();
      reject(new Error(`ZooKeeper ${endpoints.join(",")}: not connected within ${ZK_CONNECT_MS} ms`));
    }, ZK_CONNECT_MS);
    client.once("connected", () => {
      clearTimeout(timer);
      resolve();
    });
    client.connect();
  });
  try {
    const out: string[] = [];
    const walk = async (path: string): Promise<void> => {
      const children = await new Promise<string[]>((resolve, reject) =>
        client.getChildren(path, (e, c) => {
          if (e && "getCode" in e && e.getCode() === zookeeper.Exception.NO_NODE) resolve([]);
          else if (e) reject(e);
          else resolve(c);
        }),
      );
      for (const child of children) {
        const full = `${path}/${child}`;
        out.push(full);
        await walk(full);
      }
    };
    await walk(root);
    return out;
  } finally {
    client.close();
  }
}
