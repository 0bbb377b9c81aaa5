// vigil drill: standby-failover drills against a running cluster whose JobManagers are processes on this host.
// The loop, the /proc discovery and the report live in src/drill/; this file is flags, output and Ctrl-C.
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { monotonicNow } from "../common/clock.ts";
import { ConfigError } from "../common/errors.ts";
import { createLogger } from "../common/logger.ts";
import { drillJson, drillTable, failureText, passed, summarize, summaryText } from "../drill/report.ts";
import type { DrillMode } from "../drill/report.ts";
import { runDrills } from "../drill/run-drills.ts";
import { type Command, required, secondsFlag } from "./args.ts";
import { positionalsOf } from "./cluster-flags.ts";
import { DUPLICATE_SIGNAL_WINDOW_MS } from "./process-command.ts";
import { haConfigFrom, haFlags } from "./ha-flags.ts";
import { emit } from "./output.ts";
import { Shutdown } from "./signals.ts";

const MODES: readonly DrillMode[] = ["kill", "pause", "graceful"];
const CALL_TIMEOUT_MS = 10_000;

export const drillCommand: Command = {
  name: "drill",
  summary: "fail the JobManager leader N times and measure how fast the cluster recovers",
  usage:
    "vigil drill --ha etcd|zookeeper --ha-endpoints HOST:PORT[,…] --cluster-id C --kills N [--mode kill|pause|graceful] [--interval SECONDS] [--recovery-timeout SECONDS] [--log-dir DIR] [--json]",
  flags: {
    ...haFlags,
    kills: { type: "string", value: "N", help: "how many drills to run (each fails the leader once)" },
    mode: {
      type: "string",
      value: "kill|pause|graceful",
      help: "kill: SIGKILL; pause: SIGSTOP until a new leader is published, then SIGCONT; graceful: SIGTERM",
      default: "kill",
    },
    interval: { type: "string", value: "SECONDS", help: "pause between drills", default: "5" },
    "recovery-timeout": {
      type: "string",
      value: "SECONDS",
      help: "a drill fails unless a new leader runs every job again within this",
      default: "30",
    },
    "log-dir": {
      type: "string",
      value: "DIR",
      help: "where restarted JobManagers write stdout and stderr",
      default: "a new vigil-drill-C-TIME directory in the temp dir",
    },
    json: { type: "boolean", help: "one JSON object per drill and a summary object instead of a table" },
    help: { type: "boolean", help: "show this help" },
  },
  details: [
    "Run it on the host of the JobManagers, as their user or as root: it finds their processes in /proc.",
    "",
    "Before anything it checks the cluster and refuses to start, saying what is wrong and how to fix it, when:",
    "no leader is published; no process on this host listens on the leader's RPC port; fewer than 2 JobManager",
    "processes of the cluster run here (a JobManager's cluster id is read from its --cluster-id, its",
    "VIGIL_CLUSTER_ID or its config file); a job is CREATED or RESTARTING instead of RUNNING; no TaskManager is",
    "registered; or it cannot read how the leader was started (needed to restart it).",
    "",
    "Each drill notes the leader (name, epoch, pid) and the jobs RUNNING, fails the leader's process as --mode",
    "says, and measures from the signal:",
    "  time to new leader     until leader retrieval publishes a leader with a higher epoch",
    "  time to jobs running   until the job listing, answered under that epoch, shows every job that was",
    "                         RUNNING as RUNNING again",
    "With --mode pause the process gets SIGCONT once a new leader is published, and must then stop calling itself",
    "leader. With kill and graceful it is started again afterwards with the same executable, arguments, working",
    "directory and environment (read from /proc before it was stopped), detached, output appended to a log file",
    "(printed); the drill waits until it answers GetLeader (up to 30 s), then --interval, then checks the cluster",
    "again. If something else (a supervisor) already started it again, no second copy is started. SIGKILL and",
    "SIGSTOP are noticed when the leader's lease / session runs out (its TTL); SIGTERM resigns at once.",
    "",
    "A drill that does not recover within --recovery-timeout fails: its report on stderr says what was seen last",
    "(the leaders published, the last job listing); what it stopped is still restarted, and no further drill",
    "runs. Ctrl-C stops waiting, still resumes or restarts what the drill stopped, and exits 1. Progress goes",
    "to stderr. Exit 0 only if every drill recovered and everything it stopped runs again.",
    "",
    "Output: a table (DRILL, MODE, OLD LEADER, NEW LEADER, TO NEW LEADER, TO JOBS RUNNING, RESULT) and a summary",
    "(p50 and max of both times). With --json, one line per drill, then one summary line:",
    '  {"kind":"drill","drill":1,"mode":"kill","ok":true,"recovered":true,',
    '   "oldLeader":{"name":"jm-1","epoch":"7","address":"…","pid":4242},"newLeader":{"name":"jm-2","epoch":"8",…},',
    '   "timeToNewLeaderMs":2210,"timeToJobsRunningMs":2761,"jobs":["…"],',
    '   "restarted":[{"name":"jm-1","stoppedPid":4242,"pid":4300,"log":"/tmp/…/jm-1.drill-1.log","address":"…"}]}',
    '  {"kind":"summary","mode":"kill","planned":3,"run":3,"recovered":3,"failed":0,',
    '   "timeToNewLeaderMs":{"p50":…,"max":…},"timeToJobsRunningMs":{"p50":…,"max":…},"ok":true}',
    "A failed drill adds problems:[…] and lastSeen:[…]. Epochs are decimal strings.",
    "",
    "Examples:",
    "  vigil drill --ha etcd --ha-endpoints 127.0.0.1:2379 --cluster-id prod --kills 3",
    "  vigil drill --ha zookeeper --ha-endpoints zk1:2181 --cluster-id prod --kills 5 --mode pause --interval 30",
    "  vigil drill --ha etcd --ha-endpoints 127.0.0.1:2379 --cluster-id dev --kills 2 --mode graceful --json",
  ].join("\n"),
  run: async (values, positionals) => {
    positionalsOf(positionals, [], "drill");
    const ha = haConfigFrom(values);
    const kills = Number(required(values, "kills", "drill"));
    if (!Number.isSafeInteger(kills) || kills < 1) {
      throw new ConfigError(`--kills: ${JSON.stringify(values.kills)} is not a whole number ≥ 1`);
    }
    const mode = (values.mode ?? "kill") as DrillMode;
    if (!MODES.includes(mode)) {
      throw new ConfigError(`--mode: ${JSON.stringify(values.mode)} is not one of ${MODES.join(", ")}`);
    }
    const intervalMs = secondsFlag(values.interval ?? "5", "interval")!;
    const recoveryTimeoutMs = secondsFlag(values["recovery-timeout"] ?? "30", "recovery-timeout")!;
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const logDir =
      typeof values["log-dir"] === "string"
        ? resolve(values["log-dir"])
        : join(tmpdir(), `vigil-drill-${ha.clusterId}-${stamp}`);
    const json = values.json === true;
    const progress = (line: string): void => void process.stderr.write(`vigil drill: ${line}\n`);
    const shutdown = new Shutdown();
    const abort = new AbortController();
    const requestedAt: number[] = [];
    // As `vigil jobmanager` does: a person who asks twice wants it gone, even with a restart still pending.
    const force = (signal: NodeJS.Signals): void => {
      if (monotonicNow() - requestedAt[0]! < DUPLICATE_SIGNAL_WINDOW_MS) return;
      progress(
        `${signal} again: exiting now; a JobManager this drill stopped may still be stopped or paused`,
      );
      process.exit(1);
    };
    void shutdown.requested.then((cause) => {
      requestedAt.push(monotonicNow());
      progress(`${cause}: stopping after undoing what this drill did (again to exit at once)`);
      process.on("SIGINT", force);
      process.on("SIGTERM", force);
      abort.abort();
    });
    try {
      const results = await runDrills(
        {
          ha,
          kills,
          mode,
          intervalMs,
          recoveryTimeoutMs,
          logDir,
          callTimeoutMs: CALL_TIMEOUT_MS,
          logger: createLogger("warn"),
          progress,
          onDrill: (r) => {
            if (!passed(r)) process.stderr.write(failureText(r));
            if (json) emit(drillJson(r));
          },
        },
        abort.signal,
      );
      const summary = summarize(results, mode, kills);
      if (json) emit(summary);
      else
        process.stdout.write(
          `${results.length ? drillTable(results) : "no drill ran\n"}\n${summaryText(summary)}`,
        );
      return summary.ok ? 0 : 1;
    } finally {
      shutdown.dispose();
      process.off("SIGINT", force);
      process.off("SIGTERM", force);
    }
  },
};
