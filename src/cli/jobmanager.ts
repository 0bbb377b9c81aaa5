// vigil jobmanager: one JobManager replica. It campaigns for leadership; as leader it recovers and runs the
// stored jobs, accepts submissions and drives the TaskManagers; as standby it redirects clients to the leader.
// SIGTERM / Ctrl-C resigns at once (a standby takes over without waiting out the TTL) and drains.
import { createLogger } from "../common/logger.ts";
import { loadConfigSources } from "../config/config-file.ts";
import { type UnsafeTestSwitches, UNSAFE_ENV, unsafeTestSwitches } from "../config/environment.ts";
import { compileJobManagerConfig } from "../config/process-config.ts";
import { disableZombieGuardForTests } from "../ha/leader-session.ts";
import { disableStoreFencingForTests } from "../ha/test-switches.ts";
import { JobManager } from "../jobmanager/jobmanager.ts";
import type { Command } from "./args.ts";
import { positionalsOf } from "./cluster-flags.ts";
import { emitEvent } from "./output.ts";
import { processFlags, serveUntilShutdown, sourcesHelp } from "./process-command.ts";
import { Shutdown } from "./signals.ts";

export const jobmanagerCommand: Command = {
  name: "jobmanager",
  summary: "run a JobManager replica: campaign for leadership, run jobs, drive TaskManagers",
  usage:
    "vigil jobmanager [--config FILE] --ha etcd|zookeeper --ha-endpoints HOST:PORT[,…] --cluster-id C --storage-dir file:///DIR [OPTIONS]",
  flags: processFlags("jobmanager"),
  details: [
    "Prints its events as JSON lines on stdout (epochs as decimal strings), e.g.",
    '  {"event":"jobmanager-started","name":"jm-1","address":"127.0.0.1:6123"}',
    '  {"event":"granted","epoch":"42"}   {"event":"published","epoch":"42","address":"127.0.0.1:6123"}',
    '  {"event":"job-state","job":"…","state":"RUNNING","epoch":"42"}',
    '  {"event":"stopping","name":"jm-1","cause":"SIGTERM"}   {"event":"stopped","name":"jm-1"}',
    "Logs go to stderr. SIGTERM or Ctrl-C resigns leadership at once and drains, then exits 0; a second",
    "signal during that exits 1 at once.",
    "",
    sourcesHelp("jobmanager", [
      "ha: etcd",
      "ha-endpoints: [etcd1:2379, etcd2:2379, etcd3:2379]",
      "cluster-id: prod",
      "storage-dir: file:///var/lib/vigil",
      "rpc-host: 0.0.0.0",
      "rpc-port: 6123",
      "ttl: 5",
    ]),
    "",
    "Examples:",
    "  vigil jobmanager --ha etcd --ha-endpoints 127.0.0.1:2379 --cluster-id dev \\",
    "      --storage-dir file:///tmp/vigil --name jm-1 --rpc-port 6123",
    "  VIGIL_NAME=jm-2 VIGIL_RPC_PORT=6124 vigil jobmanager --config vigil.yaml",
  ].join("\n"),
  run: async (values, positionals) => {
    positionalsOf(positionals, [], "jobmanager");
    const config = compileJobManagerConfig(await loadConfigSources(values));
    const unsafe = applyUnsafeTestSwitches(unsafeTestSwitches());
    const shutdown = new Shutdown();
    try {
      const { logLevel, ...options } = config;
      const jobmanager = new JobManager({
        ...options,
        unsafeAckBeforeStoreMs: unsafe.ackBeforeStoreMs,
        logger: createLogger(logLevel, { name: config.name }),
        events: emitEvent,
      });
      return await serveUntilShutdown(jobmanager, shutdown, { name: config.name, command: "jobmanager" });
    } finally {
      shutdown.dispose();
    }
  },
};

/** Turns on the test-only switches the environment asks for, loudly: an event and a warning for each. */
function applyUnsafeTestSwitches(switches: UnsafeTestSwitches): UnsafeTestSwitches {
  const on: string[] = [];
  if (switches.disableStoreFencing) {
    disableStoreFencingForTests();
    on.push(UNSAFE_ENV.disableStoreFencing);
  }
  if (switches.disableZombieGuard) {
    disableZombieGuardForTests();
    on.push(UNSAFE_ENV.disableZombieGuard);
  }
  if (switches.ackBeforeStoreMs !== undefined) on.push(UNSAFE_ENV.ackBeforeStoreMs);
  for (const name of on) {
    emitEvent({ event: "unsafe-test-switch", name });
    process.stderr.write(
      `vigil jobmanager: WARNING: ${name} is set: a safety mechanism is OFF (tests only)\n`,
    );
  }
  return switches;
}
