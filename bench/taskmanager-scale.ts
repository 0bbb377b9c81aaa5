// What many TaskManagers cost the leader: one `vigil jobmanager` process on its own etcd, and simulated
// TaskManagers in this process (one RPC client each) that register and then heartbeat at the interval the
// leader tells them, with no tasks. For each TaskManager count, a window of the leader's CPU share and RSS
// (read from /proc), the heartbeat round trips the TaskManagers saw, and this process's own CPU (the load
// generator's cost, so the reader can tell whether it limited the measurement).
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import type { RegisterTaskManagerResponse } from "../src/generated/records.ts";
import { ResourceManagerMethods, type ResourceManagerService } from "../src/generated/services.ts";
import type { ServerCluster } from "../src/local/cluster.ts";
import { startEtcd } from "../src/local/etcd.ts";
import { spawnVigil, type VigilProcess } from "../src/local/processes.ts";
import { Registration } from "../src/local/registry.ts";
import { makeTempDir } from "../src/local/start.ts";
import { createClient, type RpcClient } from "../src/rpc/client.ts";
import { etcdServerVersion } from "./machine.ts";
import { type CpuWindow, cpuMsOf, cpuWindow, establishedTo, ownCpuMs, rssBytesOf } from "./proc-stats.ts";
import { etcdClient } from "./raw-clients.ts";
import { percentile } from "./stats.ts";

export const SCALE_HEARTBEAT = { intervalSeconds: 1, timeoutSeconds: 5 } as const;
const SLOTS = 4;
const CALL_TIMEOUT_MS = 5_000;
/** After the last registration, before the window: connections established, the JIT warm. */
const SETTLE_MS = 3_000;

export interface ScaleRow {
  readonly taskmanagers: number;
  readonly jobmanagerCpu: CpuWindow;
  /** VmRSS at the end of the window, and the largest sampled once a second during it. */
  readonly rssBytes: number;
  readonly rssPeakBytes: number;
  readonly benchCpu: CpuWindow;
  /** Heartbeats answered in the window, and their round trips (ms). */
  readonly heartbeats: number;
  readonly rttP50Ms: number | undefined;
  readonly rttP99Ms: number | undefined;
  readonly rttMaxMs: number | undefined;
  /** Heartbeats answered `registered: false` (the leader forgot the TaskManager) and calls that failed. */
  readonly notRegistered: number;
  readonly failed: number;
  readonly failures: readonly string[];
  /** TCP connections established to the leader's RPC port at the end of the window. */
  readonly connections: number;
}

export interface ScaleResult {
  readonly rows: ScaleRow[];
  readonly anomalies: string[];
  readonly error?: string;
  readonly serverVersion: string;
}

export interface ScaleOptions {
  /** TaskManager counts, ascending; each step adds TaskManagers to those already running. */
  readonly counts: readonly number[];
  readonly windowMs: number;
  readonly ttlSeconds: number;
  /**
   * "own": a TCP connection per simulated TaskManager, as separate processes have (default); "shared": plain
   * createClient, whose channels to one address share one connection in this process (see RpcClientOptions).
   */
  readonly connections: "own" | "shared";
  readonly progress: (line: string) => void;
  readonly stopRequested: () => boolean;
}

/** What the simulated TaskManagers saw during one window. */
class HeartbeatLog {
  readonly rtts: number[] = [];
  notRegistered = 0;
  failed = 0;
  readonly failures: string[] = [];

  fail(what: string): void {
    this.failed += 1;
    if (this.failures.length < 5) this.failures.push(what);
  }
}

/** One TaskManager as the leader sees it: registration, then a heartbeat every interval; no tasks. */
class SimulatedTaskManager {
  readonly #client: RpcClient<ResourceManagerService>;
  #registration: RegisterTaskManagerResponse | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    readonly id: string,
    address: string,
    private readonly epoch: bigint,
    private readonly log: () => HeartbeatLog,
    connections: "own" | "shared",
  ) {
    this.#client = createClient<ResourceManagerService>(ResourceManagerMethods, address, {
      timeoutMs: CALL_TIMEOUT_MS,
      privateConnection: connections === "own",
    });
  }

  async register(): Promise<void> {
    this.#registration = await this.#client.registerTaskManager({
      taskmanagerId: this.id,
      // Never dialled: the leader deploys nothing without jobs.
      address: "127.0.0.1:1",
      slots: SLOTS,
      epoch: this.epoch,
    });
  }

  get intervalMs(): number {
    if (!this.#registration) throw new Error(`${this.id} is not registered`);
    return this.#registration.heartbeatIntervalMs;
  }

  /** Heartbeats every interval from now on (the first one interval after the registration). */
  startHeartbeats(): void {
    this.#schedule(this.intervalMs);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#client.close();
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#beat(), delayMs);
  }

  /** Never rejects: every outcome is counted in the log. */
  async #beat(): Promise<void> {
    const registration = this.#registration!;
    const started = performance.now();
    const log = this.log();
    try {
      const answer = await this.#client.heartbeat({
        taskmanagerId: this.id,
        registrationId: registration.registrationId,
        epoch: this.epoch,
        tasks: [],
        freeSlots: SLOTS,
      });
      log.rtts.push(performance.now() - started);
      if (!answer.registered) {
        log.notRegistered += 1;
        // As a real TaskManager does: register again, so one loss is counted once, not every second.
        await this.register();
      }
    } catch (e: unknown) {
      if (!this.#stopped) log.fail(`${this.id}: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.#schedule(Math.max(0, started + registration.heartbeatIntervalMs - performance.now()));
  }
}

export async function measureTaskManagerScale(o: ScaleOptions): Promise<ScaleResult> {
  const rows: ScaleRow[] = [];
  const anomalies: string[] = [];
  const sims: SimulatedTaskManager[] = [];
  let log = new HeartbeatLog();
  const registration = new Registration("bench taskmanager-scale");
  let etcd: ServerCluster | undefined;
  let jm: VigilProcess | undefined;
  let error: string | undefined;
  let serverVersion = "unknown";
  try {
    o.progress("taskmanager-scale: starting etcd and one JobManager");
    etcd = await startEtcd({ members: 1 });
    const raw = etcdClient(etcd.endpoints);
    serverVersion = `etcd server ${await etcdServerVersion(raw)}`;
    raw.close();
    const storage = pathToFileURL(makeTempDir(registration)).href;
    const endpoints = etcd.endpoints.join(",");
    jm = spawnVigil([
      ...["jobmanager", "--ha", "etcd", "--ha-endpoints", endpoints],
      ...["--cluster-id", `bench-scale-${process.pid}`, "--name", "jm-scale", "--storage-dir", storage],
      ...["--rpc-port", "0", "--log-level", "warn", "--ttl", String(o.ttlSeconds)],
      ...["--heartbeat-interval", String(SCALE_HEARTBEAT.intervalSeconds)],
      ...["--heartbeat-timeout", String(SCALE_HEARTBEAT.timeoutSeconds)],
    ]);
    const published = await jm.waitForEvent((e) => e["event"] === "published", 30_000);
    const address = String(published["address"]);
    const epoch = BigInt(String(published["epoch"]));
    const jmPid = jm.pid;
    const port = Number(address.slice(address.lastIndexOf(":") + 1));
    for (const count of o.counts) {
      if (o.stopRequested()) break;
      const fresh: SimulatedTaskManager[] = [];
      while (sims.length < count) {
        const sim = new SimulatedTaskManager(
          `sim-tm-${sims.length + 1}`,
          address,
          epoch,
          () => log,
          o.connections,
        );
        sims.push(sim);
        fresh.push(sim);
      }
      await registerStaggered(fresh, SCALE_HEARTBEAT.intervalSeconds * 1000);
      o.progress(
        `taskmanager-scale: ${count} TaskManagers registered; ${SETTLE_MS / 1000} s settle, ${o.windowMs / 1000} s window`,
      );
      await sleep(SETTLE_MS);
      if (jm.events.some((e) => e["event"] === "revoked"))
        throw new Error("the JobManager lost its leadership");
      log = new HeartbeatLog();
      const jmWindow = cpuWindow(() => cpuMsOf(jmPid));
      const ownWindow = cpuWindow(ownCpuMs);
      let rssPeak = rssBytesOf(jmPid);
      const until = performance.now() + o.windowMs;
      while (performance.now() < until) {
        await sleep(Math.min(1_000, until - performance.now()));
        rssPeak = Math.max(rssPeak, rssBytesOf(jmPid));
      }
      const jobmanagerCpu = jmWindow();
      const benchCpu = ownWindow();
      const rssBytes = rssBytesOf(jmPid);
      const sorted = [...log.rtts].sort((a, b) => a - b);
      const row: ScaleRow = {
        taskmanagers: count,
        jobmanagerCpu,
        rssBytes,
        rssPeakBytes: Math.max(rssPeak, rssBytes),
        benchCpu,
        heartbeats: sorted.length,
        rttP50Ms: sorted.length ? percentile(sorted, 50) : undefined,
        rttP99Ms: sorted.length ? percentile(sorted, 99) : undefined,
        rttMaxMs: sorted.at(-1),
        notRegistered: log.notRegistered,
        failed: log.failed,
        failures: [...log.failures],
        connections: establishedTo(port),
      };
      rows.push(row);
      o.progress(
        `taskmanager-scale ${count}: JobManager ${jobmanagerCpu.percentOfCore.toFixed(1)} % of a core, ` +
          `RSS ${mib(rssBytes)} MiB, ${row.connections} connections; ${row.heartbeats} heartbeats, ${row.notRegistered} not registered, ${row.failed} failed; ` +
          `bench ${benchCpu.percentOfCore.toFixed(1)} %`,
      );
    }
  } catch (e: unknown) {
    error = e instanceof Error ? e.message : String(e);
  } finally {
    for (const sim of sims) sim.stop();
    if (jm) {
      for (const e of jm.events) {
        if (e["event"] === "taskmanager-lost" || e["event"] === "revoked" || e["event"] === "error") {
          anomalies.push(`jm-scale: ${JSON.stringify(e)}`);
        }
      }
      const registered = jm.events.filter((e) => e["event"] === "taskmanager-registered").length;
      if (registered < sims.length) {
        anomalies.push(
          `the JobManager reported only ${registered} registrations for ${sims.length} TaskManagers`,
        );
      }
      jm.kill("SIGTERM");
      const exited = await Promise.race([jm.exited(), sleep(5_000).then(() => undefined)]);
      if (!exited) jm.kill("SIGKILL");
      await jm.exited();
    }
    await etcd?.stop().catch(() => undefined);
    registration.release();
  }
  const base = { rows, anomalies, serverVersion };
  return error === undefined ? base : { ...base, error };
}

/** Registers `sims` spread evenly over one heartbeat interval, so their heartbeats are spread too. */
async function registerStaggered(sims: readonly SimulatedTaskManager[], intervalMs: number): Promise<void> {
  await Promise.all(
    sims.map(async (sim, i) => {
      await sleep((i * intervalMs) / sims.length);
      await sim.register();
      sim.startHeartbeats();
    }),
  );
}

export function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}
