// Store throughput: vigil's fenced state-handle store next to the raw client on the same server, in this
// process, one connected client per side, the same value size and the same number of requests in flight.
//   put: vigil `store.replace` (one fenced compare-and-set transaction) vs raw etcd3 `put(k).value(v)` /
//        node-zookeeper-client `setData(path, v, -1)` (unconditional, unfenced);
//   get: vigil `store.get` vs raw etcd3 `get(k).buffer()` / `getData(path)`.
// Each worker owns one key. Raw and fenced alternate in slices, so drift in the machine's load (other test
// suites share it) hits both sides alike.
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Etcd3 } from "etcd3";
import { silentLogger } from "../src/common/logger.ts";
import { compileHaConfig } from "../src/config/ha-config.ts";
import type { HaBackend } from "../src/ha/backend.ts";
import { createHaBackend } from "../src/ha/factory.ts";
import { LeaderElectionService } from "../src/ha/leader-election-service.ts";
import type { LeaderSession } from "../src/ha/leader-session.ts";
import { RecordingContender, waitUntil } from "../src/ha/testing.ts";
import { etcdClient, ZkRaw } from "./raw-clients.ts";

export interface StoreOptions {
  readonly valueBytes: number;
  readonly concurrency: number;
  /** Measured time per side and operation, split into `slices` alternating slices. */
  readonly durationMs: number;
  readonly slices: number;
  readonly progress: (line: string) => void;
}

export const STORE_DEFAULTS = { valueBytes: 256, concurrency: 16, durationMs: 4_000, slices: 4 } as const;

export interface StoreRow {
  readonly backend: "etcd" | "zookeeper";
  readonly op: "put" | "get";
  readonly rawOpsPerSec: number;
  readonly fencedOpsPerSec: number;
}

/** One side of one operation: `op(worker)` performs one request for the worker's own key. */
type Op = (worker: number) => Promise<void>;

interface Side {
  readonly put: Op;
  readonly get: Op;
  close(): Promise<void>;
}

/** Runs `op` on `concurrency` workers for `ms`; returns completed requests. */
async function drive(op: Op, concurrency: number, ms: number): Promise<number> {
  const until = performance.now() + ms;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (performance.now() < until) {
        await op(w);
        done += 1;
      }
    }),
  );
  return done;
}

async function vigilSide(
  backend: "etcd" | "zookeeper",
  endpoints: readonly string[],
  ns: string,
  value: Uint8Array,
  concurrency: number,
): Promise<Side> {
  const config = compileHaConfig({ backend, endpoints, clusterId: `bench-store-${ns}`, ttlMs: 2_000 });
  const ha: HaBackend = createHaBackend(config, silentLogger);
  await ha.connect();
  const service = new LeaderElectionService(ha.createElectionDriver("bench"), "bench", silentLogger);
  const contender = new RecordingContender(service, "bench", "bench:0");
  await service.start(contender);
  await waitUntil(() => contender.leading, 15_000, "the store benchmark's contender to lead");
  const session: LeaderSession = contender.session!;
  const key = (w: number): string => `bench/k${w}`;
  const versions: bigint[] = [];
  for (let w = 0; w < concurrency; w++) versions.push(await ha.store.create(key(w), value, session));
  return {
    put: async (w) => {
      versions[w] = await ha.store.replace(key(w), value, versions[w]!, session);
    },
    get: async (w) => {
      if ((await ha.store.get(key(w))) === undefined) throw new Error(`vigil get ${key(w)}: missing`);
    },
    close: async () => {
      await service.close();
      await ha.close();
    },
  };
}

async function rawEtcdSide(endpoints: readonly string[], ns: string, value: Buffer): Promise<Side> {
  const client: Etcd3 = etcdClient(endpoints);
  const key = (w: number): string => `/bench-store-raw-${ns}/k${w}`;
  await client.put(key(0)).value(value);
  return {
    put: async (w) => {
      await client.put(key(w)).value(value);
    },
    get: async (w) => {
      if ((await client.get(key(w)).buffer()) === null) throw new Error(`etcd3 get ${key(w)}: missing`);
    },
    close: async () => client.close(),
  };
}

async function rawZkSide(
  endpoints: readonly string[],
  ns: string,
  value: Buffer,
  concurrency: number,
): Promise<Side> {
  const zk = await ZkRaw.connect(endpoints);
  const path = (w: number): string => `/bench-store-raw/${ns}/k${w}`;
  for (let w = 0; w < concurrency; w++) {
    await zk.mkdirp(path(w));
    await zk.setData(path(w), value);
  }
  return {
    put: (w) => zk.setData(path(w), value),
    get: async (w) => {
      await zk.getData(path(w));
    },
    close: async () => zk.close(),
  };
}

export async function measureStore(
  backend: "etcd" | "zookeeper",
  endpoints: readonly string[],
  ns: string,
  o: StoreOptions,
): Promise<StoreRow[]> {
  const value = randomBytes(o.valueBytes);
  const raw =
    backend === "etcd"
      ? await rawEtcdSide(endpoints, ns, value)
      : await rawZkSide(endpoints, ns, value, o.concurrency);
  let fenced: Side | undefined;
  try {
    fenced = await vigilSide(backend, endpoints, ns, value, o.concurrency);
    // Gets after puts, so every raw etcd key exists; a short warm-up per side and op is not counted.
    const rows: StoreRow[] = [];
    for (const op of ["put", "get"] as const) {
      await drive(raw[op], o.concurrency, 300);
      await drive(fenced[op], o.concurrency, 300);
      let rawOps = 0;
      let fencedOps = 0;
      const slice = o.durationMs / o.slices;
      for (let i = 0; i < o.slices; i++) {
        rawOps += await drive(raw[op], o.concurrency, slice);
        fencedOps += await drive(fenced[op], o.concurrency, slice);
      }
      const row: StoreRow = {
        backend,
        op,
        rawOpsPerSec: rawOps / (o.durationMs / 1000),
        fencedOpsPerSec: fencedOps / (o.durationMs / 1000),
      };
      o.progress(
        `${backend} store ${op}: raw ${row.rawOpsPerSec.toFixed(0)}/s, fenced ${row.fencedOpsPerSec.toFixed(0)}/s`,
      );
      rows.push(row);
    }
    return rows;
  } finally {
    await fenced?.close();
    await raw.close();
  }
}
