// What the results were measured on: the date, the machine, the software versions, and whether anything
// else was competing for the CPU (other test suites often run on the same two cores).
import { execFile, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createConnection } from "node:net";
import os from "node:os";
import { promisify } from "node:util";
import type { Etcd3 } from "etcd3";
import { REPO_ROOT } from "./contestants.ts";

function run(command: string, args: readonly string[]): string {
  try {
    return execFileSync(command, args, { encoding: "utf8", timeout: 5_000 }).trim();
  } catch {
    return "unknown";
  }
}

function packageVersion(name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(`${REPO_ROOT}/node_modules/${name}/package.json`, "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

export interface MachineInfo {
  readonly date: string;
  readonly uname: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memory: string;
  readonly node: string;
  readonly libraries: string;
  readonly etcdctl: string;
}

export function machineInfo(): MachineInfo {
  const cpuinfo = (() => {
    try {
      return readFileSync("/proc/cpuinfo", "utf8");
    } catch {
      return "";
    }
  })();
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? "unknown";
  return {
    date: run("date", ["-u"]),
    uname: run("uname", ["-srm"]),
    cpu: model,
    cores: os.cpus().length,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    libraries: ["etcd3", "node-zookeeper-client", "tsx"].map((p) => `${p} ${packageVersion(p)}`).join(", "),
    etcdctl: /etcdctl version:\s*(\S+)/.exec(run("etcdctl", ["version"]))?.[1] ?? "unknown",
  };
}

/** The etcd server's own version, as it reports it. */
export async function etcdServerVersion(client: Etcd3): Promise<string> {
  try {
    return (await client.maintenance.status()).version;
  } catch {
    return "unknown";
  }
}

/** The ZooKeeper server's version line from the `srvr` four-letter word. */
export function zooKeeperServerVersion(endpoint: string): Promise<string> {
  const [host, port] = endpoint.split(":");
  return new Promise((resolve) => {
    let out = "";
    const socket = createConnection({ host: host ?? "127.0.0.1", port: Number(port) }, () =>
      socket.end("srvr"),
    );
    socket.setEncoding("utf8");
    socket.setTimeout(3_000, () => socket.destroy());
    socket.on("data", (d: string) => {
      out += d;
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      resolve(/Zookeeper version:\s*([0-9][0-9.]*)/.exec(out)?.[1] ?? "unknown");
    });
  });
}

/** Samples of what else ran: other etcd / java / node / vitest processes not started by this run. */
export class LoadWatch {
  private maxOthers = 0;
  private readonly seen = new Set<string>();
  private readonly loads: number[] = [];

  private timer: NodeJS.Timeout | undefined;

  /** Samples every `ms` until stop(); asynchronous, so it never delays reading the contenders' output. */
  start(ms = 10_000): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), ms);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Takes one sample. This process, its ancestors and all its descendants are excluded. */
  async sample(): Promise<void> {
    this.loads.push(os.loadavg()[0]!);
    let out: string;
    try {
      out = (await promisify(execFile)("ps", ["-eo", "pid=,ppid=,stat=,comm="], { encoding: "utf8" })).stdout;
    } catch {
      return;
    }
    const procs = out
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .filter((r) => r.length >= 4 && !r[2]!.startsWith("Z")) // zombies use no CPU
      .map(([pid, ppid, , comm]) => ({ pid: Number(pid), ppid: Number(ppid), comm: comm! }));
    const parent = new Map(procs.map((p) => [p.pid, p.ppid]));
    const ours = (pid: number): boolean => {
      if (pid === process.pid) return true;
      for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
        if (p === process.pid) return true; // a descendant
      }
      return false;
    };
    const ancestors = new Set<number>();
    for (let p = parent.get(process.pid); p !== undefined && p > 1; p = parent.get(p)) ancestors.add(p);
    let others = 0;
    for (const p of procs) {
      if (ours(p.pid) || ancestors.has(p.pid)) continue;
      if (p.comm === "etcd" || p.comm === "java" || p.comm === "node" || p.comm === "vitest") {
        others += 1;
        this.seen.add(p.comm);
      }
    }
    this.maxOthers = Math.max(this.maxOthers, others);
  }

  /** One sentence for RESULTS.md. */
  describe(): string {
    const load = this.loads.length ? Math.max(...this.loads).toFixed(2) : "unknown";
    if (this.maxOthers === 0) {
      return `No other etcd, java or node processes ran during the benchmark; peak 1-minute load average ${load}.`;
    }
    return (
      `Other processes shared the machine during the benchmark (up to ${this.maxOthers} other ` +
      `${[...this.seen].sort().join("/")} processes at once, e.g. concurrent test suites); ` +
      `peak 1-minute load average ${load}. Expect more spread than on an idle machine.`
    );
  }
}
