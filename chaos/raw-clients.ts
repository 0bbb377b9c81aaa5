// The plain client libraries, opened for one piece of work and closed after it: the harness reads and writes
// the coordinator directly (the final store dump, a deposed leader's replayed write), never through vigil's
// stores, so that it does not take the system's word for what is stored.
import { Etcd3 } from "etcd3";
import zookeeper from "node-zookeeper-client";

const ZK_CONNECT_MS = 5_000;

/** Runs `work` with an etcd client of `endpoints` ("host:port"), closed afterwards. */
export async function withEtcd<T>(
  endpoints: readonly string[],
  work: (client: Etcd3) => Promise<T>,
): Promise<T> {
  const client = new Etcd3({ hosts: endpoints.map((e) => `http://${e}`) });
  try {
    return await work(client);
  } finally {
    client.close();
  }
}

/** Runs `work` with a connected ZooKeeper client, closed afterwards; fails when not connected within 5 s. */
export async function withZooKeeper<T>(
  endpoints: readonly string[],
  work: (client: zookeeper.Client) => Promise<T>,
): Promise<T> {
  const client = zookeeper.createClient(endpoints.join(","), { sessionTimeout: 10_000 });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`ZooKeeper ${endpoints.join(",")}: not connected within ${ZK_CONNECT_MS} ms`)),
        ZK_CONNECT_MS,
      );
      client.once("connected", () => {
        clearTimeout(timer);
        resolve();
      });
      client.connect();
    });
    return await work(client);
  } finally {
    client.close();
  }
}

/** Children of `path`; [] when it does not exist. */
export function zkChildren(client: zookeeper.Client, path: string): Promise<string[]> {
  return new Promise((resolve, reject) =>
    client.getChildren(path, (e, children) => {
      if (e && "getCode" in e && e.getCode() === zookeeper.Exception.NO_NODE) resolve([]);
      else if (e) reject(e);
      else resolve(children);
    }),
  );
}
