// Real etcd and ZooKeeper servers for integration tests, on free loopback ports and temp dirs, cleaned
// up on stop(), on process exit, and by the vitest globalSetup after crashed runs.

export type { ServerCluster } from "./cluster.ts";

export { startEtcd } from "./etcd.ts";
export { startZooKeeper } from "./zookeeper.ts";
