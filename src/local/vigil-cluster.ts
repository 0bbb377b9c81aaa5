// A whole vigil cluster on this machine: a private etcd or ZooKeeper, JobManager and TaskManager processes,
// and a shared storage directory, all on loopback with free ports and all removed on stop(). `vigil local`,
// the integration tests and the benchmarks build on it. Processes are real `vigil jobmanager` /
// `vigil taskmanager` children; what they do is read from their JSON event lines.
import { pathToFileURL } from "node:url";
import type { ServerCluster } from "./cluster.ts";
import { startEtcd } from "./etcd.ts";
import { spawnVigil, type VigilEvent, type VigilProcess } from "./processes.ts";
import { Registration } from "./registry.ts";
import { makeTempDir } from "./start.ts";
import { TcpProxy } from "./tcp-proxy.ts";
import { startZooKeeper } from "./zookeeper.ts";

export interface LocalClusterOptions {
  readonly backend: "etcd" | "zookeeper";
  readonly jobmanagers: number;
  readonly taskmanagers: number;
  /** Slots per TaskManager. */
  readonly slots: number;
  /** Lease TTL / session timeout of the JobManagers, seconds. */
  readonly ttlSeconds: number;
  readonly heartbeatIntervalSeconds?: number;
  readonly heartbeatTimeoutSeconds?: number;
  /** Environment of the vigil processes (test-only switches). */
  readonly env?: NodeJS.ProcessEnv;
  readonly logLevel?: "debug" | "info" | "warn" | "error";
  /** Members of the etcd cluster / ZooKeeper ensemble (default 1). */
  readonly coordinatorMembers?: 1 | 3;
  /**
   * Each JobManager reaches each coordinator member through a TcpProxy of its own (see proxiesOf), so a fault
   * can cut one JobManager off; TaskManagers and clients connect directly. JobManagers are then started with
   * addJobManager() (a proxy must listen before the process gets its address).
   */
  readonly proxyCoordinator?: boolean;
}

/** One vigil process of the cluster and its name. */
export interface Member {
  readonly name: string;
  readonly role: "jobmanager" | "taskmanager";
  readonly proc: VigilProcess;
}

export interface LeaderSighting {
  readonly member: Member;
  readonly epoch: bigint;
  readonly address: string;
}

const epochOf = (e: VigilEvent): bigint => BigInt(String(e["epoch"]));

export class LocalCluster {
  readonly members: Member[] = [];
  readonly clusterId = `local-${process.pid}-${Date.now().toString(36)}`;
  readonly storageDir: string;
  readonly #registration = new Registration("vigil local cluster");
  readonly #exited = new Map<Member, number>();
  readonly #proxies = new Map<Member, readonly TcpProxy[]>();
  #coordinator: ServerCluster | undefined;
  #firstLeader: LeaderSighting | undefined;
  #jmCount = 0;
  #tmCount = 0;

  private constructor(readonly options: LocalClusterOptions) {
    this.storageDir = makeTempDir(this.#registration);
  }

  /** Starts the coordinator, then every JobManager and TaskManager; waits for a leader and registrations. */
  static async start(options: LocalClusterOptions, timeoutMs = 30_000): Promise<LocalCluster> {
    const cluster = new LocalCluster(options);
    try {
      const size = options.coordinatorMembers ?? 1;
      cluster.#coordinator =
        options.backend === "etcd"
          ? await startEtcd({ members: size })
          : await startZooKeeper({ servers: size, tickTimeMs: 500 });
      await Promise.all(Array.from({ length: options.jobmanagers }, () => cluster.addJobManager()));
      for (let i = 0; i < options.taskmanagers; i++) cluster.startTaskManager();
      const leader = await cluster.waitForLeader(0n, timeoutMs);
      await cluster.waitForRegistrations(leader.epoch, timeoutMs);
      cluster.#firstLeader = leader;
      return cluster;
    } catch (e: unknown) {
      await cluster.stop();
      throw e;
    }
  }

  get coordinator(): ServerCluster {
    if (!this.#coordinator) throw new Error("the coordinator is not started");
    return this.#coordinator;
  }

  /** The leader that start() waited for. */
  get firstLeader(): LeaderSighting {
    if (!this.#firstLeader) throw new Error("the cluster is not started");
    return this.#firstLeader;
  }

  get endpoints(): string {
    return this.coordinator.endpoints.join(",");
  }

  /** --ha, --ha-endpoints and --cluster-id for any vigil command against this cluster (direct endpoints). */
  haArgs(): string[] {
    return this.#haArgs(this.endpoints);
  }

  #haArgs(endpoints: string): string[] {
    return ["--ha", this.options.backend, "--ha-endpoints", endpoints, "--cluster-id", this.clusterId];
  }

  /** The storage directory as the file:// URI the processes are given. */
  get storageUri(): string {
    return pathToFileURL(this.storageDir).href;
  }

  get jobmanagers(): Member[] {
    return this.members.filter((m) => m.role === "jobmanager");
  }

  get taskmanagers(): Member[] {
    return this.members.filter((m) => m.role === "taskmanager");
  }

  /** Members whose process has not exited (as far as we have seen). */
  alive(role: Member["role"]): Member[] {
    return this.members.filter((m) => m.role === role && !this.#exited.has(m));
  }

  /** Starts a JobManager at once; with proxyCoordinator use addJobManager(), which this refuses. */
  startJobManager(name = `jm-${++this.#jmCount}`): Member {
    if (this.options.proxyCoordinator) {
      throw new Error(
        `cannot start JobManager ${name} synchronously: this cluster proxies the coordinator, so its proxies ` +
          "must listen first; use `await cluster.addJobManager()`",
      );
    }
    return this.#startJobManager(name, this.endpoints);
  }

  /** Starts a JobManager, behind proxies of its own when the cluster proxies the coordinator. */
  async addJobManager(name = `jm-${++this.#jmCount}`): Promise<Member> {
    if (!this.options.proxyCoordinator) return this.#startJobManager(name, this.endpoints);
    const proxies: TcpProxy[] = [];
    try {
      for (const [i, upstream] of this.coordinator.endpoints.entries()) {
        proxies.push(await TcpProxy.start({ upstream, name: `${name} → ${this.coordinator.kind}-${i}` }));
      }
    } catch (e: unknown) {
      await Promise.all(proxies.map((p) => p.close()));
      throw e;
    }
    const member = this.#startJobManager(name, proxies.map((p) => p.address).join(","));
    this.#proxies.set(member, proxies);
    return member;
  }

  /**
   * The proxies between a JobManager and the coordinator, in coordinator member order (index i in front of
   * coordinator.endpoints[i]); empty without proxyCoordinator. Closed once the JobManager has exited.
   */
  proxiesOf(member: Member | string): readonly TcpProxy[] {
    const m = typeof member === "string" ? this.members.find((x) => x.name === member) : member;
    if (!m) throw new Error(`no member named ${String(member)} in this cluster`);
    return this.#proxies.get(m) ?? [];
  }

  #startJobManager(name: string, endpoints: string): Member {
    const o = this.options;
    return this.#spawn(name, "jobmanager", endpoints, [
      "--ttl",
      String(o.ttlSeconds),
      ...(o.heartbeatIntervalSeconds !== undefined
        ? ["--heartbeat-interval", String(o.heartbeatIntervalSeconds)]
        : []),
      ...(o.heartbeatTimeoutSeconds !== undefined
        ? ["--heartbeat-timeout", String(o.heartbeatTimeoutSeconds)]
        : []),
    ]);
  }

  startTaskManager(name = `tm-${++this.#tmCount}`): Member {
    return this.#spawn(name, "taskmanager", this.endpoints, ["--slots", String(this.options.slots)]);
  }

  #spawn(name: string, role: Member["role"], endpoints: string, extra: string[]): Member {
    const proc = spawnVigil(
      [
        role,
        ...this.#haArgs(endpoints),
        "--name",
        name,
        "--storage-dir",
        this.storageUri,
        "--rpc-port",
        "0",
        "--log-level",
        this.options.logLevel ?? "warn",
        ...extra,
      ],
      this.options.env ? { env: this.options.env } : {},
    );
    const member: Member = { name, role, proc };
    this.members.push(member);
    void proc.exited().then(() => this.#markExited(member));
    return member;
  }

  /**
   * The first JobManager to publish itself as leader with an epoch above `after`. Rejects after `timeoutMs`
   * with what each JobManager said last.
   */
  waitForLeader(after: bigint, timeoutMs: number): Promise<LeaderSighting> {
    const candidates = this.alive("jobmanager");
    return new Promise<LeaderSighting>((resolve, reject) => {
      let pending = candidates.length;
      const timer = setTimeout(
        () => reject(this.#stuck(`no leader with an epoch above ${after}`)),
        timeoutMs,
      );
      for (const member of candidates) {
        member.proc
          .waitForEvent((e) => e["event"] === "published" && epochOf(e) > after, timeoutMs + 1_000)
          .then(
            (e) => {
              clearTimeout(timer);
              resolve({ member, epoch: epochOf(e), address: String(e["address"]) });
            },
            () => {
              if (--pending === 0) {
                clearTimeout(timer);
                reject(this.#stuck(`no leader with an epoch above ${after}`));
              }
            },
          );
      }
    });
  }

  /** Waits until every live TaskManager has registered with the leader of `epoch`. */
  async waitForRegistrations(epoch: bigint, timeoutMs: number): Promise<void> {
    await Promise.all(
      this.alive("taskmanager").map((m) =>
        m.proc.waitForEvent((e) => e["event"] === "registered" && epochOf(e) === epoch, timeoutMs),
      ),
    );
  }

  /** SIGKILL one member and wait until it is gone. */
  async kill(member: Member, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    member.proc.kill(signal);
    await member.proc.exited();
    this.#markExited(member);
  }

  /** Wall-clock ms by which `member` was seen to have exited; undefined while it runs. */
  exitedAt(member: Member): number | undefined {
    return this.#exited.get(member);
  }

  #markExited(member: Member): void {
    if (!this.#exited.has(member)) this.#exited.set(member, Date.now());
    // Nobody connects through them any more; close() is idempotent and never rejects.
    for (const p of this.#proxies.get(member) ?? []) void p.close();
  }

  /** Kills every vigil process, then the proxies and the coordinator; removes every temp dir. Idempotent. */
  async stop(): Promise<void> {
    for (const m of this.members) m.proc.kill("SIGKILL");
    await Promise.all(this.members.map((m) => m.proc.exited()));
    await Promise.all([...this.#proxies.values()].flat().map((p) => p.close()));
    await this.#coordinator?.stop();
    this.#registration.release();
  }

  #stuck(what: string): Error {
    const lines = this.members.map(
      (m) =>
        `  ${m.name}: ${JSON.stringify(m.proc.events.at(-1) ?? null)}${this.#exited.has(m) ? " (exited)" : ""}` +
        (m.proc.stderr() ? `\n    stderr: ${m.proc.stderr().slice(-600).replace(/\n/g, "\n    ")}` : ""),
    );
    return new Error(`${what}; last events:\n${lines.join("\n")}`);
  }
}
