// npm run bench: failover, graceful handover and store throughput, vigil next to the raw client libraries on
// the same servers in the same run; job failover and TaskManager scale on local clusters; the streaming
// runtime's throughput, checkpoint cost and memory next to plain baselines. Progress on stderr, a table per
// benchmark on stdout, and the latest results (with the date, the machine and the command) in bench/RESULTS.md.
import { join } from "node:path";
import { parseArgs } from "node:util";
import { killAllChildren } from "./children.ts";
import {
  type Coordinator,
  etcd3ElectionContestant,
  etcdctlLockContestant,
  REPO_ROOT,
  TTL_SECONDS,
  vigilContestant,
  zkRecipeContestant,
} from "./contestants.ts";
import { type Contestant, measureHandovers } from "./failover.ts";
import { type BenchmarkOutcome, jobFailoverBenchmark, scaleBenchmark } from "./job-benchmarks.ts";
import { etcdServerVersion, LoadWatch, machineInfo, zooKeeperServerVersion } from "./machine.ts";
import { etcdClient, ZkRaw } from "./raw-clients.ts";
import {
  type HandoverRow,
  handoverDetails,
  handoverTable,
  previousHeader,
  SECTIONS,
  type Section,
  storeTable,
  writeResults,
} from "./report.ts";
import {
  FAILOVER_TARGET_MS,
  failoverSection,
  GRACEFUL_TARGET_MS,
  gracefulSection,
  header,
  storeSection,
  ZK_TICK_MS,
} from "./sections.ts";
import { type Servers, startServers } from "./servers.ts";
import { measureStore, STORE_DEFAULTS, type StoreRow } from "./store.ts";
import {
  streamChainBenchmark,
  streamCheckpointsBenchmark,
  streamMemoryBenchmark,
  streamShuffleBenchmark,
} from "./streaming-benchmarks.ts";
import { killAllWorkers } from "./streaming-cluster.ts";

const HELP = `Usage: npm run bench -- [OPTIONS]

Measures, on etcd and ZooKeeper servers it starts itself (through src/local):
  failover   SIGKILL the leader -> the standby's grant, TTL / session timeout ${TTL_SECONDS} s: vigil elect next to
             etcd3's Election class and \`etcdctl lock --ttl ${TTL_SECONDS}\` (etcd) and a plain ephemeral-sequential
             recipe on node-zookeeper-client (ZooKeeper)
  graceful   SIGTERM the leader -> the standby's grant, the same contestants
  store      fenced store put/get throughput next to the raw client's put/get on the same server
  jobs-failover
             SIGKILL the JobManager leader of a local cluster (3 JobManagers, 2 TaskManagers × 2 slots,
             TTL ${TTL_SECONDS} s) running a job -> the new leader published, the TaskManagers re-registered, the
             job RUNNING again; on a private etcd / ZooKeeper per backend (never --*-endpoints)
  taskmanager-scale
             simulated TaskManagers (0, 50, 200) heartbeating one JobManager every second: the leader's CPU
             and memory, heartbeat round trips; on a private etcd (--backend does not apply)
Measures, without coordination servers (--backend does not apply):
  stream-chain
             records/s of source → map → filter → discard chained in one task (runStreamTask) vs a plain loop
  stream-shuffle
             records/s of a keyBy exchange between two TaskManager processes (DataExchange over gRPC, credits)
             vs raw grpc-js bidi streams carrying the same buffers
  stream-checkpoints
             records/s of a keyed job across two TaskManager processes with checkpoints every 1 s vs none
             (target: < 5 % lost)
  stream-memory
             RSS and heapUsed of both TaskManagers, each second, while a fast source feeds a slow sink
             (target: flat, records in flight within the exchange's buffer bound)
Prints a table per benchmark on stdout, progress on stderr, and writes bench/RESULTS.md.

Options:
  --only SECTION[,SECTION…]        run these benchmarks: failover, graceful, store, jobs-failover,
                                   taskmanager-scale, stream-chain, stream-shuffle, stream-checkpoints,
                                   stream-memory (RESULTS.md keeps the other sections)
  --kills N                        handovers per contestant in failover/graceful (default 20)
  --job-kills N                    leader kills in jobs-failover (default 10)
  --scale-taskmanagers N[,N…]      TaskManager counts of taskmanager-scale, ascending (default 0,50,200)
  --scale-window S                 seconds measured per count in taskmanager-scale (default 20)
  --scale-shared-connection        simulated TaskManagers share one HTTP/2 connection (plain createClient)
                                   instead of one connection each as separate processes have
  --memory-seconds S               how long stream-memory runs the slow sink (default 60, at least 6)
  --backend etcd|zookeeper|both    (default both)
  --etcd-endpoints H:P[,…]         use this etcd instead of starting one
  --zookeeper-endpoints H:P[,…]    use this ZooKeeper (tickTime 1000 ms assumed) instead of starting one
  --help
`;

const RESULTS = join(REPO_ROOT, "bench", "RESULTS.md");

const { values } = parseArgs({
  options: {
    only: { type: "string" },
    kills: { type: "string", default: "20" },
    "job-kills": { type: "string", default: "10" },
    "scale-taskmanagers": { type: "string", default: "0,50,200" },
    "scale-window": { type: "string", default: "20" },
    "scale-shared-connection": { type: "boolean" },
    "memory-seconds": { type: "string", default: "60" },
    backend: { type: "string", default: "both" },
    "etcd-endpoints": { type: "string" },
    "zookeeper-endpoints": { type: "string" },
    help: { type: "boolean" },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const usage = (message: string): never => {
  process.stderr.write(`bench: ${message}\n\n${HELP}`);
  process.exit(2);
};
const only: readonly Section[] | undefined = values.only?.split(",").map((s) => {
  const section = SECTIONS.find((x) => x === s.trim());
  return section ?? usage(`--only ${values.only}: use one or more of ${SECTIONS.join(", ")}`);
});
const positive = (flag: string, raw: string): number => {
  const n = Number(raw);
  return Number.isInteger(n) && n >= 1 ? n : usage(`--${flag} ${raw}: a positive integer`);
};
const kills = positive("kills", values.kills);
const jobKills = positive("job-kills", values["job-kills"]);
const scaleWindowMs = positive("scale-window", values["scale-window"]) * 1000;
const memorySeconds = positive("memory-seconds", values["memory-seconds"]);
if (memorySeconds < 6)
  usage(`--memory-seconds ${memorySeconds}: at least 6 (a warm-up, then two halves to compare)`);
const scaleCounts = values["scale-taskmanagers"].split(",").map((c) => {
  const n = Number(c);
  return Number.isInteger(n) && n >= 0 && n <= 5_000
    ? n
    : usage(`--scale-taskmanagers ${values["scale-taskmanagers"]}: whole numbers from 0 to 5000`);
});
if (scaleCounts.some((n, i) => i > 0 && n <= scaleCounts[i - 1]!))
  usage(`--scale-taskmanagers ${values["scale-taskmanagers"]}: ascending, each step adds TaskManagers`);
const backends: ReadonlyArray<"etcd" | "zookeeper"> =
  values.backend === "both"
    ? ["etcd", "zookeeper"]
    : values.backend === "etcd" || values.backend === "zookeeper"
      ? [values.backend]
      : usage(`--backend ${values.backend}: use etcd, zookeeper or both`);
const wanted = (s: Section): boolean => only === undefined || only.includes(s);
/** The sections that run on the shared servers (the others start their own). */
const needsServers = (["failover", "graceful", "store"] as const).some(wanted);
const log = (line: string): void => void process.stderr.write(line + "\n");
const command = ["npm run bench", ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : [])].join(
  " ",
);

let servers: Servers | undefined;
const load = new LoadWatch();
let interrupted = false;
process.on("exit", () => {
  killAllChildren();
  killAllWorkers();
});
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  // `on`, not `once`: the harness re-raises the signal when no other listener is left, and we want to stop
  // the servers and exit with 130 ourselves.
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    log(`bench: ${sig}; stopping every contender and server this run started`);
    killAllChildren();
    killAllWorkers();
    void (servers?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
    setTimeout(() => process.exit(130), 5_000).unref();
  });
}

function contestantsOf(co: Coordinator, ns: string): Array<{ c: Contestant; targetMs: number | undefined }> {
  if (co.backend === "etcd") {
    return [
      { c: vigilContestant(co, ns), targetMs: FAILOVER_TARGET_MS },
      { c: etcd3ElectionContestant(co, ns), targetMs: undefined },
      { c: etcdctlLockContestant(co, ns), targetMs: undefined },
    ];
  }
  return [
    { c: vigilContestant(co, ns), targetMs: FAILOVER_TARGET_MS + ZK_TICK_MS },
    { c: zkRecipeContestant(co, ns), targetMs: undefined },
  ];
}

async function handovers(
  coordinators: readonly Coordinator[],
  signal: "SIGKILL" | "SIGTERM",
): Promise<HandoverRow[]> {
  const rows: HandoverRow[] = [];
  for (const co of coordinators) {
    const ns = `${signal === "SIGKILL" ? "kill" : "term"}-${process.pid}`;
    for (const { c, targetMs } of contestantsOf(co, ns)) {
      if (interrupted) return rows;
      const verb = signal === "SIGKILL" ? "kill" : "term";
      const short = c.label.split(" ")[0];
      log(`${co.backend} ${c.label}: ${kills} × ${signal}`);
      const result = await measureHandovers(c, {
        rounds: kills,
        signal,
        progressLabel: `${co.backend} ${short} ${verb}`,
        progress: log,
        timeoutMs: signal === "SIGKILL" ? 4 * TTL_SECONDS * 1000 + 10_000 : 10_000,
      });
      if (result.error !== undefined) log(`${co.backend} ${c.label}: stopped early: ${result.error}`);
      const target =
        signal === "SIGKILL" ? targetMs : c.label === "vigil elect" ? GRACEFUL_TARGET_MS : undefined;
      rows.push({ backend: co.backend, contestant: c.label, result, targetMs: target });
    }
  }
  return rows;
}

async function main(): Promise<void> {
  const machine = machineInfo();
  load.start();
  log(`bench: ${command}`);
  const coordinators: Coordinator[] = [];
  const versions: string[] = [];
  /** Per section run: the servers it was measured on. */
  const serverText = new Map<Section, string>();
  const addVersion = (v: string): void =>
    addOnce(versions, v.startsWith("etcd server ") ? `${v} (etcdctl ${machine.etcdctl})` : v);
  const sections: Partial<Record<Section, string>> = {};
  const stamp = (): string => `Measured ${machine.date} with \`${command}\`. ${load.describe()}`;
  try {
    if (needsServers) {
      log(`bench: starting ${backends.join(" and ")}`);
      servers = await startServers(backends, {
        ...(values["etcd-endpoints"] ? { etcd: values["etcd-endpoints"].split(",") } : {}),
        ...(values["zookeeper-endpoints"] ? { zookeeper: values["zookeeper-endpoints"].split(",") } : {}),
        zkTickMs: ZK_TICK_MS,
      });
      for (const s of ["failover", "graceful", "store"] as const) {
        if (wanted(s)) serverText.set(s, servers.description);
      }
      if (servers.etcd)
        coordinators.push({ backend: "etcd", endpoints: servers.etcd, etcd: etcdClient(servers.etcd) });
      if (servers.zookeeper) {
        coordinators.push({
          backend: "zookeeper",
          endpoints: servers.zookeeper,
          zk: await ZkRaw.connect(servers.zookeeper),
        });
      }
      for (const co of coordinators) {
        if (co.etcd)
          versions.push(`etcd server ${await etcdServerVersion(co.etcd)} (etcdctl ${machine.etcdctl})`);
        else versions.push(`ZooKeeper server ${await zooKeeperServerVersion(co.endpoints[0]!)}`);
      }
    }
    if (wanted("failover")) {
      const rows = await handovers(coordinators, "SIGKILL");
      const t = handoverTable(rows);
      process.stdout.write(
        `\nFailover: SIGKILL the leader -> the standby's grant (TTL ${TTL_SECONDS} s)\n${t}\n`,
      );
      sections.failover = failoverSection(t, handoverDetails(rows), stamp());
    }
    if (wanted("graceful") && !interrupted) {
      const rows = await handovers(coordinators, "SIGTERM");
      const t = handoverTable(rows);
      process.stdout.write(`\nGraceful handover: SIGTERM the leader -> the standby's grant\n${t}\n`);
      sections.graceful = gracefulSection(t, handoverDetails(rows), stamp());
    }
    if (wanted("store") && !interrupted) {
      const rows: StoreRow[] = [];
      for (const co of coordinators) {
        rows.push(
          ...(await measureStore(co.backend, co.endpoints, String(process.pid), {
            ...STORE_DEFAULTS,
            progress: log,
          })),
        );
      }
      const t = storeTable(rows);
      process.stdout.write(`\nStore throughput (ops/s)\n${t}\n`);
      sections.store = storeSection(t, stamp());
    }
    const ctx = { progress: log, stopRequested: () => interrupted, stamp };
    const record = (section: Section, outcome: BenchmarkOutcome): void => {
      sections[section] = outcome.section;
      serverText.set(section, outcome.servers);
      for (const v of outcome.versions) addVersion(v);
    };
    if (wanted("jobs-failover") && !interrupted) {
      record("jobs-failover", await jobFailoverBenchmark(backends, jobKills, ctx));
    }
    if (wanted("taskmanager-scale") && !interrupted) {
      const connections = values["scale-shared-connection"] ? "shared" : "own";
      const o = { counts: scaleCounts, windowMs: scaleWindowMs, connections } as const;
      record("taskmanager-scale", await scaleBenchmark(o, ctx));
    }
    if (wanted("stream-chain") && !interrupted) record("stream-chain", await streamChainBenchmark(ctx));
    if (wanted("stream-shuffle") && !interrupted) record("stream-shuffle", await streamShuffleBenchmark(ctx));
    if (wanted("stream-checkpoints") && !interrupted)
      record("stream-checkpoints", await streamCheckpointsBenchmark(ctx));
    if (wanted("stream-memory") && !interrupted)
      record("stream-memory", await streamMemoryBenchmark(memorySeconds, ctx));
  } finally {
    load.stop();
    for (const co of coordinators) {
      co.etcd?.close();
      co.zk?.close();
    }
    await servers?.stop();
  }
  if (interrupted) return;
  // Sections this run did not measure keep their servers and server versions in the head of the file.
  const previous = previousHeader(RESULTS);
  const serverLines = new Map<string, string>();
  for (const s of SECTIONS) {
    const text = serverText.get(s) ?? (sections[s] === undefined ? previous.servers.get(s) : undefined);
    if (text !== undefined) serverLines.set(s, text);
  }
  const kind = (v: string): string => v.split(" ")[0]!;
  for (const v of previous.versions) if (!versions.some((x) => kind(x) === kind(v))) versions.push(v);
  writeResults(RESULTS, header(machine, versions, serverLines, command), sections);
  log(`bench: wrote ${RESULTS}`);
}

function addOnce(list: string[], item: string): void {
  if (!list.includes(item)) list.push(item);
}

try {
  await main();
  process.exit(0);
} catch (e: unknown) {
  log(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  killAllChildren();
  killAllWorkers();
  await servers?.stop().catch(() => {});
  process.exit(1);
}
