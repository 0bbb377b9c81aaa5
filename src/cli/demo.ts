// vigil demo: the HA core end to end on this machine. It starts a private etcd (or ZooKeeper) on free
// loopback ports, three `vigil elect` contender processes (each making a fenced probe write every 0.2 s as
// leader), shows the leader through leader retrieval, SIGKILLs the leader and times the takeover, freezes the
// next leader past its TTL and shows that it demotes itself on waking and that its writes are refused, then
// stops the current leader gracefully and times the handover.
// Everything it started is stopped and removed on exit, Ctrl-C included.
import { sleep } from "../common/clock.ts";
import { ConfigError } from "../common/errors.ts";
import type { ServerCluster } from "../local/cluster.ts";
import { startEtcd } from "../local/etcd.ts";
import { spawnVigil, type VigilEvent, type VigilProcess } from "../local/processes.ts";
import { startZooKeeper } from "../local/zookeeper.ts";
import type { Command } from "./args.ts";
import { secondsFlag } from "./args.ts";

export const demoCommand: Command = {
  name: "demo",
  summary:
    "local HA demo: a private etcd/ZooKeeper, three contenders, a leader kill, a frozen leader, a graceful handover",
  usage: "vigil demo [--ha etcd|zookeeper] [--ttl SECONDS] [--contenders N]",
  flags: {
    ha: { type: "string", value: "etcd|zookeeper", help: "the HA backend to start", default: "etcd" },
    ttl: {
      type: "string",
      value: "SECONDS",
      help: "lease TTL / session timeout of the contenders",
      default: "2",
    },
    contenders: { type: "string", value: "N", help: "number of contender processes (3-9)", default: "3" },
    help: { type: "boolean", help: "show this help" },
  },
  details:
    "Needs etcd (Debian: etcd-server) or ZooKeeper (Debian: zookeeper) installed; `npm run demo` installs them.",
  run: async (values) => {
    const kind = values.ha ?? "etcd";
    if (kind !== "etcd" && kind !== "zookeeper")
      throw new ConfigError(`--ha: ${JSON.stringify(kind)}; use etcd or zookeeper`);
    const ttlMs = secondsFlag(values.ttl ?? "2", "ttl")!;
    if (kind === "etcd" && ttlMs % 1000 !== 0)
      throw new ConfigError("--ttl: etcd lease TTLs are whole seconds");
    const n = Number(values.contenders ?? "3");
    if (!Number.isInteger(n) || n < 2 || n > 9)
      throw new ConfigError(`--contenders: ${values.contenders} is not 2-9`);
    return new Demo(kind, ttlMs, n).run();
  },
};

const say = (line: string): void => void process.stdout.write(line + "\n");
const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const isGrant = (e: VigilEvent): boolean => e["event"] === "granted";

class Demo {
  private cluster: ServerCluster | undefined;
  private readonly procs: VigilProcess[] = [];
  private readonly clusterId = `demo-${process.pid}`;

  constructor(
    private readonly kind: "etcd" | "zookeeper",
    private readonly ttlMs: number,
    private readonly contenders: number,
  ) {}

  async run(): Promise<number> {
    try {
      await this.steps();
      return 0;
    } finally {
      for (const p of this.procs) p.kill("SIGKILL");
      await Promise.all(this.procs.map((p) => p.exited()));
      await this.cluster?.stop();
      say("cleaned up: every process stopped, temporary directories removed");
    }
  }

  private async steps(): Promise<void> {
    const started = performance.now();
    this.cluster =
      this.kind === "etcd"
        ? await startEtcd({ members: 1 })
        : await startZooKeeper({ servers: 1, tickTimeMs: 1_000 });
    const endpoints = this.cluster.endpoints.join(",");
    say(
      `1. started ${this.kind} at ${endpoints} in ${secs(performance.now() - started)} (temporary, loopback only)`,
    );

    const names = Array.from({ length: this.contenders }, (_, i) => `jm-${i + 1}`);
    for (const name of names)
      this.procs.push(
        spawnVigil([
          "elect",
          ...this.haArgs(endpoints),
          "--name",
          name,
          "--ttl",
          String(this.ttlMs / 1000),
          "--address",
          `${name}.local:6123`,
          "--probe-interval",
          "0.2",
        ]),
      );
    say(
      `2. started ${names.length} contenders (vigil elect --ttl ${this.ttlMs / 1000}): ${names.join(", ")}`,
    );
    const first = await this.nextLeader(this.procs, 20_000);
    const e1 = this.epochOf(first);
    say(`   leader: ${this.nameOf(first)} with epoch ${e1}`);
    const shown = await this.retrieve(endpoints);
    say(`   vigil leader: ${JSON.stringify(shown)}`);

    const killedAt = performance.now();
    first.kill("SIGKILL");
    say(
      `3. SIGKILL ${this.nameOf(first)} (pid ${first.pid}); its lease/session must expire before anyone else may lead`,
    );
    const survivors = this.procs.filter((p) => p !== first);
    const second = await this.nextLeader(survivors, this.ttlMs + 10_000);
    const e2 = this.epochOf(second);
    say(
      `   ${this.nameOf(second)} took over after ${secs(performance.now() - killedAt)} (TTL ${secs(this.ttlMs)}), epoch ${e2} > ${e1}`,
    );

    const pausedAt = second.events.length;
    const frozenAt = performance.now();
    second.pause();
    say(
      `4. SIGSTOP ${this.nameOf(second)}: frozen past its TTL, it cannot renew; it must not act when it wakes`,
    );
    const others = survivors.filter((p) => p !== second);
    const third = await this.nextLeader(others, this.ttlMs + 10_000);
    const e3 = this.epochOf(third);
    say(
      `   ${this.nameOf(third)} took over after ${secs(performance.now() - frozenAt)}, epoch ${e3} > ${e2}`,
    );
    await sleep(Math.max(0, frozenAt + this.ttlMs + 1_000 - performance.now()));
    second.resume();
    const after = (i: number): boolean => i >= pausedAt;
    const revoked = await second.waitForEvent((e, i) => after(i) && e["event"] === "revoked", 10_000);
    say(`   SIGCONT ${this.nameOf(second)}: it demoted itself at once (${String(revoked["reason"])})`);
    const refused = await second.waitForEvent(
      (e, i) => after(i) && e["event"] === "probe" && e["ok"] === false,
      10_000,
    );
    const landed = second.events.filter((e, i) => after(i) && e["event"] === "probe" && e["ok"] === true);
    say(
      `   its fenced writes since waking: ${landed.length} landed, refused with ${String(refused["code"])} (the store never sees them)`,
    );

    const termAt = performance.now();
    third.kill("SIGTERM");
    say(`5. SIGTERM ${this.nameOf(third)}: it resigns at once instead of letting its lease run out`);
    const fourth = await this.nextLeader([second, ...others.filter((p) => p !== third)], 10_000);
    say(
      `   ${this.nameOf(fourth)} took over after ${secs(performance.now() - termAt)}, epoch ${this.epochOf(fourth)} > ${e3}`,
    );
    const exit = await third.exited();
    say(`   ${this.nameOf(third)} exited with code ${exit.code}`);
    say("6. done: at most one leader at a time, epochs only increased, no write of a deposed leader landed");
  }

  private haArgs(endpoints: string): string[] {
    return ["--ha", this.kind, "--ha-endpoints", endpoints, "--cluster-id", this.clusterId];
  }

  /** The first of `candidates` whose latest leadership event is a grant (checked every 10 ms). */
  private async nextLeader(candidates: VigilProcess[], timeoutMs: number): Promise<VigilProcess> {
    const leading = (p: VigilProcess): boolean =>
      p.events.filter((e) => e["event"] === "granted" || e["event"] === "revoked").at(-1)?.["event"] ===
      "granted";
    const until = performance.now() + timeoutMs;
    for (;;) {
      const winner = candidates.find(leading);
      if (winner) return winner;
      if (performance.now() > until) {
        throw new Error(
          `no contender became leader within ${secs(timeoutMs)}:\n${candidates.map((p) => p.stderr()).join("\n")}`,
        );
      }
      await sleep(10);
    }
  }

  private async retrieve(endpoints: string): Promise<VigilEvent> {
    const p = spawnVigil(["leader", ...this.haArgs(endpoints), "--election", "diagnostic"]);
    const line = await p.waitForEvent(() => true, 15_000);
    await p.exited();
    return line;
  }

  private nameOf(p: VigilProcess): string {
    return String(p.events.find((e) => e["name"] !== undefined)?.["name"] ?? p.pid);
  }

  private epochOf(p: VigilProcess): string {
    return String(p.events.findLast(isGrant)?.["epoch"]);
  }
}
