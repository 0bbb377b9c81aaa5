// Minimal raw clients for proving a server really serves (the harness's own test and ad-hoc checks);
// vigil's drivers live in src/ha and are not used here on purpose.
import { Etcd3 } from "etcd3";
import { type Client, createClient } from "node-zookeeper-client";
import type { ServerCluster } from "./servers.ts";

/** An etcd3 client on the given members' endpoints (all by default). Close it. */
export function etcdClient(cluster: ServerCluster, members?: readonly number[]): Etcd3 {
  const picked = members ?? [...cluster.endpoints.keys()];
  return new Etcd3({ hosts: picked.map((i) => `http://${cluster.endpoints[i]}`), dialTimeout: 2_000 });
}

/** A connected ZooKeeper client on the given members (all by default); rejects after `timeoutMs`. */
export function zkConnect(
  cluster: ServerCluster,
  members?: readonly number[],
  timeoutMs = 10_000,
): Promise<Client> {
  const picked = members ?? [...cluster.endpoints.keys()];
  const client = createClient(picked.map((i) => cluster.endpoints[i]).join(","), {
    sessionTimeout: 4_000,
    spinDelay: 100,
    retries: 0,
  });
  return new Promise<Client>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.close();
      reject(new Error(`no ZooKeeper connection to ${picked.join(",")} within ${timeoutMs} ms`));
    }, timeoutMs);
    client.once("connected", () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.connect();
  });
}

export function zkCreate(client: Client, path: string, data: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    client.create(path, Buffer.from(data), (e) => (e ? reject(e) : resolve()));
  });
}

export function zkGet(client: Client, path: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    client.getData(path, (e, data) => (e ? reject(e) : resolve(data.toString())));
  });
}
