// vigil elect: a diagnostic contender. It campaigns in an election (never the JobManagers' by default),
// prints one JSON line per event, and as leader can make a fenced probe write at an interval, which shows
// fencing at work: a deposed leader's probe is refused and never lands.
import { ConfigError, VigilError } from "../common/errors.ts";
import { createLogger } from "../common/logger.ts";
import { createHaBackend } from "../ha/factory.ts";
import { DIAGNOSTIC_ELECTION, JOBMANAGER_ELECTION, segment } from "../ha/keys.ts";
import { type LeaderContender, LeaderElectionService } from "../ha/leader-election-service.ts";
import { disableZombieGuardForTests, type LeaderSession } from "../ha/leader-session.ts";
import { type Command, required, secondsFlag } from "./args.ts";
import { haConfigFrom, haFlags } from "./ha-flags.ts";
import { emit } from "./output.ts";
import { Shutdown } from "./signals.ts";

export const electCommand: Command = {
  name: "elect",
  summary: "campaign as a diagnostic contender and print leadership events as JSON lines",
  usage:
    "vigil elect --ha etcd|zookeeper --ha-endpoints HOST:PORT[,…] --cluster-id C --name N [--ttl SECONDS] [--election E]",
  flags: {
    ...haFlags,
    name: { type: "string", value: "N", help: "this contender's name" },
    ttl: {
      type: "string",
      value: "SECONDS",
      help: "etcd lease TTL / ZooKeeper session timeout",
      default: "5",
    },
    election: { type: "string", value: "E", help: "election name", default: DIAGNOSTIC_ELECTION },
    address: { type: "string", value: "ADDR", help: "address to publish as leader", default: "the name" },
    "probe-interval": {
      type: "string",
      value: "SECONDS",
      help: "as leader, make a fenced probe write at this interval (diagnostics/<election>/probes/)",
    },
    "unsafe-disable-zombie-guard": {
      type: "boolean",
      help: "TEST ONLY: ignore the local deadline, so that only the backend's fencing protects the store",
    },
    help: { type: "boolean", help: "show this help" },
  },
  details: [
    "Prints one JSON object per line on stdout:",
    '  {"event":"connecting","name":N,"backend":…,"endpoints":[…]}',
    '  {"event":"campaigning","name":N,"election":E}',
    '  {"event":"granted","name":N,"epoch":"…"}          leadership granted (epoch: decimal string)',
    '  {"event":"confirmed","name":N,"epoch":"…"}        leader information published',
    '  {"event":"revoked","name":N,"epoch":"…","reason":"…"}',
    '  {"event":"probe","name":N,"epoch":"…","seq":K,"ok":true|false,"code":"…"}',
    '  {"event":"error","name":N,"code":"…","message":"…"}',
    '  {"event":"stopped","name":N}',
    "SIGTERM or Ctrl-C resigns at once (a standby takes over without waiting out the TTL) and exits 0.",
  ].join("\n"),
  run: async (values) => {
    const name = required(values, "name", "elect");
    const election = segment(
      typeof values.election === "string" ? values.election : DIAGNOSTIC_ELECTION,
      "--election",
    );
    if (election === JOBMANAGER_ELECTION) {
      throw new ConfigError(
        `--election ${JOBMANAGER_ELECTION} is the JobManagers' election; pick another name`,
      );
    }
    const address = typeof values.address === "string" ? values.address : name;
    const probeMs = secondsFlag(values["probe-interval"], "probe-interval");
    if (values["unsafe-disable-zombie-guard"] === true) disableZombieGuardForTests();
    const config = haConfigFrom(values, secondsFlag(values.ttl, "ttl"));
    const logger = createLogger("warn", { name });
    const shutdown = new Shutdown();
    emit({ event: "connecting", name, backend: config.backend, endpoints: config.endpoints });
    try {
      return await campaign(shutdown);
    } finally {
      shutdown.dispose();
    }

    async function campaign(shutdown: Shutdown): Promise<number> {
      const backend = createHaBackend(config, logger);
      const stopped = async (): Promise<number> => {
        await backend.close();
        emit({ event: "stopped", name });
        return 0;
      };
      if ((await shutdown.race(backend.connect().then(() => true))) === undefined) return stopped();
      const service = new LeaderElectionService(backend.createElectionDriver(election), name, logger);
      let probes: NodeJS.Timeout | undefined;
      let seq = 0;
      const probe = async (session: LeaderSession): Promise<void> => {
        seq += 1;
        const key = `diagnostics/${election}/probes/${session.epoch.toString().padStart(20, "0")}-${String(seq).padStart(8, "0")}`;
        try {
          await backend.store.create(key, new TextEncoder().encode(JSON.stringify({ name, seq })), session);
          emit({ event: "probe", name, epoch: session.epoch, seq, ok: true, key });
        } catch (e: unknown) {
          const code = e instanceof VigilError ? e.code : "UNKNOWN";
          emit({
            event: "probe",
            name,
            epoch: session.epoch,
            seq,
            ok: false,
            code,
            message: (e as Error).message,
          });
        }
      };
      const contender: LeaderContender = {
        grantLeadership: async (session) => {
          emit({ event: "granted", name, epoch: session.epoch });
          if (await service.confirmLeadership(session, address))
            emit({ event: "confirmed", name, epoch: session.epoch });
          if (probeMs !== undefined) {
            clearInterval(probes);
            // The probe keeps trying after a revoke on purpose: each later attempt must be refused.
            probes = setInterval(() => void probe(session), probeMs);
          }
        },
        revokeLeadership: (session, reason) => emit({ event: "revoked", name, epoch: session.epoch, reason }),
        handleError: (error) =>
          emit({
            event: "error",
            name,
            code: error instanceof VigilError ? error.code : "UNKNOWN",
            message: error.message,
          }),
      };
      emit({ event: "campaigning", name, election });
      await shutdown.race(service.start(contender));
      await shutdown.requested;
      clearInterval(probes);
      await service.close();
      return stopped();
    }
  },
};
