// The servers the benchmark runs on: started through src/local (etcd single member, ZooKeeper
// standalone with tickTime 1000 ms so that a 2 s session is allowed), or existing ones given by endpoints.
export interface Servers {
  /** host:port of each etcd member, when etcd was requested. */
  readonly etcd?: string[];
  /** host:port of each ZooKeeper server, when ZooKeeper was requested. */
  readonly zookeeper?: string[];
  /** One line for RESULTS.md. */
  readonly description: string;
  /** Stops the servers this run started (never external ones). Idempotent. */
  stop(): Promise<void>;
}

interface Started {
  readonly endpoints: readonly string[];
  stop(): Promise<void>;
}

const hostPort = (e: string): string => e.replace(/^[a-z]+:\/\//, "").replace(/\/$/, "");

export async function startServers(
  backends: readonly ("etcd" | "zookeeper")[],
  o: { readonly etcd?: readonly string[]; readonly zookeeper?: readonly string[]; readonly zkTickMs: number },
): Promise<Servers> {
  const started: Started[] = [];
  const text: string[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= Promise.all(started.map((s) => s.stop().catch(() => {}))).then(() => {});
    return stopping;
  };
  let etcd: string[] | undefined;
  let zookeeper: string[] | undefined;
  try {
    if (backends.includes("etcd")) {
      if (o.etcd) {
        etcd = o.etcd.map(hostPort);
        text.push(`etcd at ${etcd.join(",")} (external)`);
      } else {
        const { startEtcd } = await import("../src/local/etcd.ts");
        const s: Started = await startEtcd({ members: 1 });
        started.push(s);
        etcd = s.endpoints.map(hostPort);
        text.push(
          "etcd single member on loopback (--heartbeat-interval=20 --election-timeout=200), started by src/local",
        );
      }
    }
    if (backends.includes("zookeeper")) {
      if (o.zookeeper) {
        zookeeper = o.zookeeper.map(hostPort);
        text.push(`ZooKeeper at ${zookeeper.join(",")} (external; tickTime ${o.zkTickMs} ms assumed)`);
      } else {
        const { startZooKeeper } = await import("../src/local/zookeeper.ts");
        const s: Started = await startZooKeeper({ servers: 1, tickTimeMs: o.zkTickMs });
        started.push(s);
        zookeeper = s.endpoints.map(hostPort);
        text.push(`ZooKeeper standalone, tickTime ${o.zkTickMs} ms, on loopback, started by src/local`);
      }
    }
  } catch (e: unknown) {
    await stop();
    throw e;
  }
  return {
    ...(etcd ? { etcd } : {}),
    ...(zookeeper ? { zookeeper } : {}),
    description: text.join("; "),
    stop,
  };
}
