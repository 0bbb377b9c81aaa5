// vigil taskmanager: one TaskManager. It finds the JobManager leader through leader retrieval, registers its
// slots, heartbeats, and runs the subtasks the leader deploys; on a leader change it stops the old leader's
// tasks and registers with the new one. SIGTERM / Ctrl-C stops its tasks and exits.
import { createLogger } from "../common/logger.ts";
import { loadConfigSources } from "../config/config-file.ts";
import { compileTaskManagerConfig } from "../config/process-config.ts";
import { TaskManager } from "../taskmanager/taskmanager.ts";
import type { Command } from "./args.ts";
import { positionalsOf } from "./cluster-flags.ts";
import { emitEvent } from "./output.ts";
import { processFlags, serveUntilShutdown, sourcesHelp } from "./process-command.ts";
import { Shutdown } from "./signals.ts";

/** Where exitOnFatalError writes and how it exits; injectable for tests. */
export interface FatalExitIo {
  readonly write: (line: string) => void;
  readonly exit: (code: number) => void;
}

/** EX_SOFTWARE (sysexits.h): the TaskManager cannot go on safely; a supervisor restarts it. */
export const FATAL_EXIT_CODE = 70;

/**
 * The TaskManager's onFatalError: one line on stderr, then exit 70 at once. A task that ignores its abort
 * cannot be stopped any other way, and it must not outlive its lease (the fatal event is already on stdout).
 */
export function exitOnFatalError(
  error: Error,
  io: FatalExitIo = {
    write: (line) => process.stderr.write(line),
    exit: (code) => process.exit(code),
  },
): void {
  io.write(`vigil taskmanager: fatal: ${error.message.replace(/\s*\n\s*/g, " ")}\n`);
  io.exit(FATAL_EXIT_CODE);
}

export const taskmanagerCommand: Command = {
  name: "taskmanager",
  summary: "run a TaskManager: register slots with the JobManager leader and run its tasks",
  usage:
    "vigil taskmanager [--config FILE] --ha etcd|zookeeper --ha-endpoints HOST:PORT[,…] --cluster-id C --storage-dir file:///DIR [--slots N] [OPTIONS]",
  flags: processFlags("taskmanager"),
  details: [
    "Prints its events as JSON lines on stdout (epochs as decimal strings), e.g.",
    '  {"event":"taskmanager-started","id":"tm-1","address":"127.0.0.1:7001","slots":2}',
    '  {"event":"registered","epoch":"42","leader":"127.0.0.1:6123"}',
    '  {"event":"task-running","job":"…","execution":"…","vertex":"…","subtask":0,"attempt":1,"epoch":"42"}',
    '  {"event":"command-rejected","command":"deploy","execution":"…","epoch":"41","highest":"42","reason":"…"}',
    '  {"event":"stopping","name":"tm-1","cause":"SIGTERM"}   {"event":"stopped","name":"tm-1"}',
    "Logs go to stderr. SIGTERM or Ctrl-C stops the tasks and exits 0; a second signal during that exits 1",
    "at once. A task that does not stop by the end of its lease (or within the timeout of a cancel) is fatal:",
    'event {"event":"fatal",…}, one line on stderr, exit 70.',
    "The name is the TaskManager's id: keep it stable across restarts of the same TaskManager.",
    "",
    sourcesHelp("taskmanager", [
      "ha: zookeeper",
      "ha-endpoints:",
      "  - zk1:2181",
      "  - zk2:2181",
      "cluster-id: prod",
      "storage-dir: file:///var/lib/vigil",
      "slots: 4",
    ]),
    "",
    "Examples:",
    "  vigil taskmanager --ha etcd --ha-endpoints 127.0.0.1:2379 --cluster-id dev \\",
    "      --storage-dir file:///tmp/vigil --name tm-1 --slots 2",
    "  VIGIL_SLOTS=8 vigil taskmanager --config vigil.yaml",
  ].join("\n"),
  run: async (values, positionals) => {
    positionalsOf(positionals, [], "taskmanager");
    const config = compileTaskManagerConfig(await loadConfigSources(values));
    const shutdown = new Shutdown();
    try {
      const taskmanager = new TaskManager({
        id: config.name,
        ha: config.ha,
        storageDir: config.storageDir,
        rpcHost: config.rpcHost,
        advertisedHost: config.advertisedHost,
        rpcPort: config.rpcPort,
        slots: config.slots,
        logger: createLogger(config.logLevel, { name: config.name }),
        events: emitEvent,
        onFatalError: (error) => exitOnFatalError(error),
      });
      return await serveUntilShutdown(taskmanager, shutdown, { name: config.name, command: "taskmanager" });
    } finally {
      shutdown.dispose();
    }
  },
};
