// The integration suites' view of src/local: real etcd and ZooKeeper clusters on free loopback ports.
export { clusterRoles, inspectCluster, type ServerCluster } from "../../src/local/cluster.ts";
export { startEtcd } from "../../src/local/etcd.ts";
export { startZooKeeper, ZOOKEEPER_CLASSPATH } from "../../src/local/zookeeper.ts";
