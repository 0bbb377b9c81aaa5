// vigil local: a whole HA cluster on this machine, a sample job, a leader kill and the recovery, shown step by
// step. It starts a private etcd (or ZooKeeper) from the installed binaries in a temporary directory,
// JobManager and TaskManager processes on free loopback ports, submits a job, SIGKILLs the leader and shows a
// standby take over, the TaskManagers re-register and the job run again. Everything it started is stopped and
// removed on exit, Ctrl-C included; --keep-running leaves the cluster up until Ctrl-C.
import { ClusterClient } from "../client/cluster-client.ts";
import { sleep } from "../common/clock.ts";
import { ConfigError } from "../common/errors.ts";
import { silentLogger } from "../common/logger.ts";
import { compileHaConfig } from "../config/ha-config.ts";
import type { JobGraph } from "../generated/records.ts";
import type { VigilEvent } from "../local/processes.ts";
import { LocalCluster, type Member } from "../local/vigil-cluster.ts";
import type { Command } from "./args.ts";
import { secondsFlag } from "./args.ts";
import { Shutdown } from "./signals.ts";

export const localCommand: Command = {
  name: "local",
  summary: "run a local HA cluster with a sample job, kill its leader and show the recovery",
  usage:
    "vigil local [--ha etcd|zookeeper] [--jobmanagers 3] [--taskmanagers 2] [--slots 2] [--ttl 2] [--keep-running]",
  flags: {
    ha: { type: "string", value: "etcd|zookeeper", help: "the HA backend to start", default: "etcd" },
    jobmanagers: { type: "string", value: "N", help: "JobManager processes (2-9)", default: "3" },
    taskmanagers: { type: "string", value: "N", help: "TaskManager processes (1-16)", default: "2" },
    slots: { type: "string", value: "N", help: "slots per TaskManager", default: "2" },
    ttl: { type: "string", value: "SECONDS", help: "JobManager lease TTL / session timeout", default: "2" },
    "keep-running": { type: "boolean", help: "leave the cluster running after the demo, until Ctrl-C" },
    help: { type: "boolean", help: "show this help" },
  },
  details: [
    "Needs etcd (Debian: etcd-server) or ZooKeeper (Debian: zookeeper) installed; `npm run local` installs them.",
    "Exits 0 once the job runs again under the new leader. Every process and temporary directory it made is",
    "removed on exit, Ctrl-C included. With --keep-running it prints the commands to inspect the cluster.",
  ].join("\n"),
  run: async (values) => {
    const backend = values.ha ?? "etcd";
    if (backend !== "etcd" && backend !== "zookeeper")
      throw new ConfigError(`--ha: ${JSON.stringify(backend)}; use etcd or zookeeper`);
    const count = (name: string, min: number, max: number, fallback: string): number => {
      const raw = values[name] ?? fallback;
      const n = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
      if (!Number.isInteger(n) || n < min || n > max)
        throw new ConfigError(
          `--${name}: ${JSON.stringify(raw)} is not a whole number from ${min} to ${max}`,
        );
      return n;
    };
    const ttlMs = secondsFlag(values.ttl ?? "2", "ttl")!;
    if (ttlMs % 1000 !== 0) throw new ConfigError("--ttl: use whole seconds");
    const demo = new LocalDemo({
      backend,
      jobmanagers: count("jobmanagers", 2, 9, "3"),
      taskmanagers: count("taskmanagers", 1, 16, "2"),
      slots: count("slots", 1, 64, "2"),
      ttlSeconds: ttlMs / 1000,
    });
    return demo.run(values["keep-running"] === true);
  },
};

const say = (line: string): void => void process.stdout.write(line + "\n");
const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

interface DemoShape {
  readonly backend: "etcd" | "zookeeper";
  readonly jobmanagers: number;
  readonly taskmanagers: number;
  readonly slots: number;
  readonly ttlSeconds: number;
}

class LocalDemo {
  #cluster: LocalCluster | undefined;
  #client: ClusterClient | undefined;
  readonly #shutdown = new Shutdown();

  constructor(private readonly shape: DemoShape) {}

  async run(keepRunning: boolean): Promise<number> {
    try {
      const done = await this.#shutdown.race(this.#steps(keepRunning));
      if (done === undefined) say("interrupted");
      return 0;
    } finally {
      this.#shutdown.dispose();
      await this.#client?.close();
      await this.#cluster?.stop();
      say("cleaned up: every process stopped, temporary directories removed");
    }
  }

  async #steps(keepRunning: boolean): Promise<true> {
    const s = this.shape;
    const t0 = performance.now();
    say(
      `vigil local: ${s.backend}, ${s.jobmanagers} JobManagers, ${s.taskmanagers} TaskManagers × ${s.slots} slots, TTL ${s.ttlSeconds} s`,
    );
    const cluster = await LocalCluster.start(s);
    this.#cluster = cluster;
    const first = cluster.firstLeader;
    say(
      `1. started ${s.backend} at ${cluster.endpoints} and the processes in ${secs(performance.now() - t0)}`,
    );
    say(`   JobManagers: ${cluster.jobmanagers.map((m) => `${m.name} (pid ${m.proc.pid})`).join(", ")}`);
    say(`   TaskManagers: ${cluster.taskmanagers.map((m) => `${m.name} (pid ${m.proc.pid})`).join(", ")}`);
    say(
      `   leader: ${first.member.name} at ${first.address}, epoch ${first.epoch}; every TaskManager registered`,
    );

    const config = compileHaConfig({
      backend: s.backend,
      endpoints: cluster.endpoints,
      clusterId: cluster.clusterId,
    });
    const client = ClusterClient.viaHa(config, silentLogger);
    this.#client = client;
    const graph = sampleJob(cluster.storageDir, Math.min(s.taskmanagers * s.slots, 4));
    const submittedAt = performance.now();
    const ack = await client.submitJob({ graph });
    say(
      `2. submitted job ${ack.jobId} "${graph.name}" (${graph.vertices.map((v) => `${v.operatorKind} ×${v.parallelism}`).join(" → ")}), acknowledged by epoch ${ack.epoch} once stored`,
    );
    await this.#running(first.member, ack.jobId, first.epoch);
    say(`   RUNNING after ${secs(performance.now() - submittedAt)}; ${await this.#progress(ack.jobId)}`);

    const killedAt = performance.now();
    await cluster.kill(first.member);
    say(`3. SIGKILL the leader ${first.member.name} (pid ${first.member.proc.pid})`);
    const next = await cluster.waitForLeader(first.epoch, s.ttlSeconds * 1000 + 20_000);
    say(
      `   ${next.member.name} took over after ${secs(performance.now() - killedAt)} (TTL ${s.ttlSeconds} s), epoch ${next.epoch} > ${first.epoch}`,
    );
    await cluster.waitForRegistrations(next.epoch, 10_000);
    say(
      `   every TaskManager re-registered with ${next.member.name} after ${secs(performance.now() - killedAt)}`,
    );
    await next.member.proc.waitForEvent(
      (e) => e["event"] === "job-recovered" && e["job"] === ack.jobId,
      10_000,
    );
    await this.#running(next.member, ack.jobId, next.epoch);
    say(
      `   job ${ack.jobId} recovered from the HA store and RUNNING again after ${secs(performance.now() - killedAt)}; ${await this.#progress(ack.jobId)}`,
    );
    const placement = this.#placement(next.member, ack.jobId, next.epoch);
    say(`   tasks: ${placement}`);

    const overview = await client.clusterOverview({});
    say(
      `4. overview: leader ${overview.leader?.name} (epoch ${overview.leader?.epoch}); ` +
        `${overview.taskmanagers.map((t) => `${t.id} ${t.freeSlots}/${t.slots} slots free`).join(", ")}; ` +
        `${overview.jobs.map((j) => `${j.name} ${j.state.replace("JOB_STATE_", "")}`).join(", ")}`,
    );
    if (keepRunning) {
      const ha = cluster.haArgs().join(" ");
      say("   the cluster keeps running; in another terminal try:");
      say(`     node bin/vigil.js overview --json ${ha}`);
      say(`     node bin/vigil.js list ${ha}`);
      say(`     node bin/vigil.js cancel ${ack.jobId} ${ha}`);
      say("   Ctrl-C stops it and removes everything.");
      await this.#shutdown.requested;
    }
    return true;
  }

  /** Waits until `leader` reports the job RUNNING under `epoch`. */
  async #running(leader: Member, job: string, epoch: bigint): Promise<void> {
    await leader.proc.waitForEvent(
      (e) =>
        e["event"] === "job-state" &&
        e["job"] === job &&
        e["state"] === "RUNNING" &&
        String(e["epoch"]) === String(epoch),
      20_000,
    );
  }

  /** Progress travels in TaskManager heartbeats (every 0.5 s): give it a moment to show. */
  async #progress(job: string): Promise<string> {
    await sleep(1_200);
    const details = await this.#client!.getJob({ jobId: job });
    const records = details.tasks.reduce((n, t) => n + t.records, 0n);
    return `${details.tasks.length} tasks, ${records} records processed by this attempt after 1.2 s`;
  }

  #placement(leader: Member, job: string, epoch: bigint): string {
    const deployed = leader.proc.events.filter(
      (e: VigilEvent) =>
        e["event"] === "task-deployed" && e["job"] === job && String(e["epoch"]) === String(epoch),
    );
    return deployed
      .map((e) => `${String(e["vertex"])}#${String(e["subtask"])} on ${String(e["taskmanager"])}`)
      .join(", ");
  }
}

/** numbers (sequence source) → out (file sink), forward-connected: one chain per subtask. */
export function sampleJob(storageDir: string, parallelism: number): JobGraph {
  return {
    version: 1,
    jobId: "sample",
    name: "sample",
    vertices: [
      {
        id: "numbers",
        name: "numbers",
        operatorKind: "source.sequence",
        parallelism,
        configJson: JSON.stringify({ count: 0, ratePerSecond: 50 }),
      },
      {
        id: "out",
        name: "out",
        operatorKind: "sink.file",
        parallelism,
        configJson: JSON.stringify({ path: `${storageDir}/output` }),
      },
    ],
    edges: [{ source: "numbers", target: "out", partitioning: "PARTITIONING_FORWARD" }],
    configJson: "",
  };
}
