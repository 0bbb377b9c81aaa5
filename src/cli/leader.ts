// vigil leader: print the current leader of an election as one JSON line, or follow it with --watch.
import { createLogger } from "../common/logger.ts";
import type { LeaderInfo } from "../ha/election-driver.ts";
import { createHaBackend } from "../ha/factory.ts";
import { JOBMANAGER_ELECTION, segment } from "../ha/keys.ts";
import { LeaderRetrievalService } from "../ha/leader-retrieval-service.ts";
import type { Command } from "./args.ts";
import { haConfigFrom, haFlags } from "./ha-flags.ts";
import { emit } from "./output.ts";
import { Shutdown } from "./signals.ts";

export const leaderCommand: Command = {
  name: "leader",
  summary: "print the current leader of an election (JSON), or follow it",
  usage:
    "vigil leader --ha etcd|zookeeper --ha-endpoints HOST:PORT[,…] --cluster-id C [--election E] [--watch]",
  flags: {
    ...haFlags,
    election: { type: "string", value: "E", help: "election name", default: JOBMANAGER_ELECTION },
    watch: { type: "boolean", help: "print one line per change until interrupted" },
    help: { type: "boolean", help: "show this help" },
  },
  details: [
    'Prints {"name":…,"epoch":"…","address":…} or {"leader":null}; with --watch one line per change.',
    "Use --election diagnostic for contenders started with `vigil elect`.",
  ].join("\n"),
  run: async (values) => {
    const election = segment(
      typeof values.election === "string" ? values.election : JOBMANAGER_ELECTION,
      "--election",
    );
    const config = haConfigFrom(values);
    const logger = createLogger("warn");
    const shutdown = new Shutdown();
    const backend = createHaBackend(config, logger);
    try {
      if ((await shutdown.race(backend.connect().then(() => true))) === undefined) return 0;
    } catch (e: unknown) {
      shutdown.dispose();
      await backend.close();
      throw e;
    }
    const retrieval = new LeaderRetrievalService(backend.createRetrievalDriver(election));
    const print = (info: LeaderInfo | undefined): void =>
      emit(info ? { name: info.name, epoch: info.epoch, address: info.address } : { leader: null });
    try {
      if (values.watch === true) {
        await shutdown.race(
          retrieval.start({ notifyLeader: print, handleError: (e) => logger.warn(e.message) }),
        );
        await shutdown.requested;
      } else {
        const first = new Promise<{ info: LeaderInfo | undefined }>((resolve, reject) => {
          void retrieval
            .start({ notifyLeader: (info) => resolve({ info }), handleError: reject })
            .catch(reject);
        });
        const got = await shutdown.race(first);
        if (got) print(got.info);
      }
    } finally {
      shutdown.dispose();
      await retrieval.close();
      await backend.close();
    }
    return 0;
  },
};
