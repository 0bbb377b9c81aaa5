// The parent's own raw clients of each server: they count queued contenders (so that a fresh contender is
// known to be the standby before the leader is killed) and are the raw side of the store benchmark.
import { Etcd3 } from "etcd3";
import zookeeper from "node-zookeeper-client";

export function etcdClient(endpoints: readonly string[]): Etcd3 {
  return new Etcd3({ hosts: endpoints.map((e) => `http://${e}`) });
}

/** Number of keys under `prefix`. */
export async function etcdCount(client: Etcd3, prefix: string): Promise<number> {
  return client.getAll().prefix(prefix).count();
}

/** node-zookeeper-client with promises for the handful of calls the benchmarks make. */
export class ZkRaw {
  private constructor(private readonly client: zookeeper.Client) {}

  static connect(endpoints: readonly string[], sessionTimeoutMs = 10_000): Promise<ZkRaw> {
    const client = zookeeper.createClient(endpoints.join(","), { sessionTimeout: sessionTimeoutMs });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        client.close();
        reject(new Error(`ZooKeeper ${endpoints.join(",")}: not connected within 10 s`));
      }, 10_000);
      client.once("connected", () => {
        clearTimeout(timer);
        resolve(new ZkRaw(client));
      });
      client.connect();
    });
  }

  /** Children of `path`; 0 when it does not exist. */
  countChildren(path: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.client.getChildren(path, (e, children) => {
        if (e && "getCode" in e && e.getCode() === zookeeper.Exception.NO_NODE) resolve(0);
        else if (e) reject(e);
        else resolve(children.length);
      });
    });
  }

  mkdirp(path: string): Promise<void> {
    return new Promise((resolve, reject) => this.client.mkdirp(path, (e) => (e ? reject(e) : resolve())));
  }

  /** Unconditional setData (version -1), as a raw client user would write. */
  setData(path: string, data: Buffer): Promise<void> {
    return new Promise((resolve, reject) =>
      this.client.setData(path, data, -1, (e) => (e ? reject(e) : resolve())),
    );
  }

  getData(path: string): Promise<Buffer> {
    return new Promise((resolve, reject) =>
      this.client.getData(path, (e, data) => (e ? reject(e) : resolve(data))),
    );
  }

  close(): void {
    this.client.close();
  }
}
