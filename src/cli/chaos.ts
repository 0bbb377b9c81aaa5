// vigil chaos: a Jepsen-style run on a private local cluster (chaos/runner.ts): a workload's clients and a
// nemesis until the time limit, a final heal, then a verdict per invariant (DESIGN.md §5), failover statistics,
// and an HTML report with a timeline. Exit 0 only when every checker says valid. A failing run prints its seed
// and the exact command that reproduces it.
import { resolve } from "node:path";
import { ConfigError } from "../common/errors.ts";
import type { Command } from "./args.ts";
import { secondsFlag } from "./args.ts";
import { emit } from "./output.ts";

const DEFAULTS = {
  backend: "etcd",
  workload: "keyed-count",
  nemesis: "kill-leader",
  timeLimit: "60",
  jobmanagers: "3",
  taskmanagers: "2",
  ttl: "2",
  interval: "5",
} as const;

export const chaosCommand: Command = {
  name: "chaos",
  summary: "run a workload on a local cluster while faults are injected; check every invariant",
  usage:
    "vigil chaos [--backend etcd|zookeeper] [--workload W] [--nemesis N[,N…]] [--time-limit SECONDS] [--seed S] [--out DIR] [--json]",
  flags: {
    backend: { type: "string", value: "etcd|zookeeper", help: "the HA backend", default: DEFAULTS.backend },
    workload: {
      type: "string",
      value: "W",
      help: "keyed-count or short-jobs (see --list)",
      default: DEFAULTS.workload,
    },
    nemesis: {
      type: "string",
      value: "N[,N…]",
      help: "faults to inject, one at a time in random order (see --list)",
      default: DEFAULTS.nemesis,
    },
    "time-limit": {
      type: "string",
      value: "SECONDS",
      help: "how long clients and faults run before the final heal",
      default: DEFAULTS.timeLimit,
    },
    seed: {
      type: "string",
      value: "S",
      help: "fixes every random choice of the run; default: a new one (printed)",
    },
    out: {
      type: "string",
      value: "DIR",
      help: "where history, events, verdict and report.html go",
      default: "chaos-runs/<seed>",
    },
    jobmanagers: { type: "string", value: "N", help: "JobManager processes", default: DEFAULTS.jobmanagers },
    taskmanagers: {
      type: "string",
      value: "N",
      help: "TaskManager processes",
      default: DEFAULTS.taskmanagers,
    },
    ttl: { type: "string", value: "SECONDS", help: "lease TTL / session timeout", default: DEFAULTS.ttl },
    "nemesis-interval": {
      type: "string",
      value: "SECONDS",
      help: "mean quiet time between a heal and the next fault",
      default: DEFAULTS.interval,
    },
    unsafe: {
      type: "string",
      value: "SWITCH[,…]",
      help: "TEST ONLY: disable-store-fencing, disable-zombie-guard, ack-before-store (the checkers must fail)",
    },
    list: { type: "boolean", help: "list the workloads and faults, then exit" },
    json: { type: "boolean", help: "print the result as one JSON object instead of tables" },
    help: { type: "boolean", help: "show this help" },
  },
  details: [
    "Starts a private etcd or ZooKeeper (three members when a fault needs them), JobManagers and TaskManagers",
    "on free loopback ports, runs the workload's clients and the nemesis, heals every fault, reads the final",
    "state, and checks invariants I1-I11 (docs/architecture.md, chaos/README.md). Progress goes to stderr",
    "(phase, faults injected, operations, current leader and epoch); the verdict table and failover",
    "statistics (time to a new leader and to the job running again: p50, p99, max) to stdout; history.jsonl,",
    "events.jsonl, verdict.json and report.html (a timeline to open in a browser) to --out.",
    "",
    "Examples:",
    "  vigil chaos --workload keyed-count --nemesis kill-leader,pause-leader,kill-taskmanager --time-limit 60",
    "  vigil chaos --backend zookeeper --workload short-jobs --nemesis kill-leader,partition-leader --seed 42",
  ].join("\n"),
  run: async (values) => {
    const { FAULT_NAMES, FAULTS } = await import("../../chaos/nemesis/index.ts");
    const { WORKLOADS } = await import("../../chaos/workloads/index.ts");
    if (values.list === true) {
      process.stdout.write("Workloads:\n");
      for (const [name, w] of Object.entries(WORKLOADS))
        process.stdout.write(`  ${name.padEnd(26)} ${w.description}\n`);
      process.stdout.write("Faults (--nemesis):\n");
      for (const name of FAULT_NAMES) {
        process.stdout.write(`  ${name.padEnd(26)} ${FAULTS[name]({ ttlMs: 2_000 }).description}\n`);
      }
      return 0;
    }
    const { runChaos, UNSAFE_SWITCHES } = await import("../../chaos/runner.ts");
    const { randomSeed } = await import("../../chaos/random.ts");
    const { printResult } = await import("../../chaos/summary.ts");
    const backend = str(values.backend, DEFAULTS.backend);
    if (backend !== "etcd" && backend !== "zookeeper") {
      throw new ConfigError(`--backend: ${JSON.stringify(backend)} is not etcd or zookeeper`);
    }
    const workload = str(values.workload, DEFAULTS.workload);
    if (!(workload in WORKLOADS)) {
      throw new ConfigError(`--workload: unknown "${workload}"; valid: ${Object.keys(WORKLOADS).join(", ")}`);
    }
    const nemesis = list(values.nemesis, DEFAULTS.nemesis);
    const unknown = nemesis.filter((n) => !(FAULT_NAMES as readonly string[]).includes(n));
    if (unknown.length > 0) {
      throw new ConfigError(`--nemesis: unknown ${unknown.join(", ")}; valid: ${FAULT_NAMES.join(", ")}`);
    }
    const unsafe = list(values.unsafe, "");
    const badSwitch = unsafe.filter((u) => !(UNSAFE_SWITCHES as readonly string[]).includes(u));
    if (badSwitch.length > 0) {
      throw new ConfigError(
        `--unsafe: unknown ${badSwitch.join(", ")}; valid: ${UNSAFE_SWITCHES.join(", ")}`,
      );
    }
    const seed = typeof values.seed === "string" && values.seed !== "" ? values.seed : randomSeed();
    const timeLimitMs = secondsFlag(values["time-limit"] ?? DEFAULTS.timeLimit, "time-limit")!;
    const ttlMs = secondsFlag(values.ttl ?? DEFAULTS.ttl, "ttl")!;
    const out = resolve(str(values.out, `chaos-runs/${safe(seed)}`));
    const command = [
      "vigil chaos",
      `--backend ${backend}`,
      `--workload ${workload}`,
      `--nemesis ${nemesis.join(",")}`,
      `--time-limit ${timeLimitMs / 1000}`,
      `--seed ${seed}`,
      ...(unsafe.length > 0 ? [`--unsafe ${unsafe.join(",")}`] : []),
    ].join(" ");
    const progress = (line: string): void => void process.stderr.write(`vigil chaos: ${line}\n`);
    progress(`seed ${seed}; reproduce with: ${command}`);
    const result = await runChaos({
      backend,
      workload,
      nemesis,
      timeLimitMs,
      seed,
      out,
      jobmanagers: count(values.jobmanagers, DEFAULTS.jobmanagers, "jobmanagers", 1),
      taskmanagers: count(values.taskmanagers, DEFAULTS.taskmanagers, "taskmanagers", 1),
      ttlSeconds: Math.max(1, Math.round(ttlMs / 1000)),
      nemesisIntervalMs: secondsFlag(values["nemesis-interval"] ?? DEFAULTS.interval, "nemesis-interval")!,
      unsafe: unsafe as (typeof UNSAFE_SWITCHES)[number][],
      command,
      progress,
    });
    if (values.json === true) emit({ seed, command, out, ...result });
    else printResult(result, process.stdout);
    if (result.overall !== true) {
      process.stderr.write(
        `vigil chaos: ${result.overall === false ? "INVALID" : "UNKNOWN"}; seed ${seed}; reproduce with:\n  ${command}\n`,
      );
      return 1;
    }
    return 0;
  },
};

function str(value: string | boolean | undefined, fallback: string): string {
  return typeof value === "string" && value !== "" ? value : fallback;
}

function list(value: string | boolean | undefined, fallback: string): string[] {
  return str(value, fallback)
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function count(value: string | boolean | undefined, fallback: string, name: string, min: number): number {
  const s = str(value, fallback);
  const n = /^\d+$/.test(s) ? Number(s) : Number.NaN;
  if (!Number.isInteger(n) || n < min)
    throw new ConfigError(`--${name}: ${JSON.stringify(s)} is not an integer ≥ ${min}`);
  return n;
}

function safe(s: string): string {
  return s.replace(/[^\w.-]/g, "_");
}
