// replay-stale-write: the write a deposed leader could still send (Kleppmann's fencing-token case: a process
// paused between its leadership check and its write), replayed on purpose. Before killing the leader the
// nemesis notes its campaign key (etcd) / latch node (ZooKeeper) and epoch; once a newer leader leads, it
// sends one write fenced by that old session straight to the store, as the deposed process would. The store
// must refuse it (StaleFenceError); the outcome goes into the op's details for checker I1: "refused" is the
// evidence that fencing works, "landed" a violation.
import type zookeeper from "node-zookeeper-client";
import { StaleFenceError, describeCause } from "../../src/common/errors.ts";
import { silentLogger } from "../../src/common/logger.ts";
import { compileHaConfig } from "../../src/config/ha-config.ts";
import { createHaBackend } from "../../src/ha/factory.ts";
import { electionRoot, JOBMANAGER_ELECTION } from "../../src/ha/keys.ts";
import type { LeaderSession } from "../../src/ha/leader-session.ts";
import { zxid } from "../../src/ha/zookeeper/requests.ts";
import { withEtcd, withZooKeeper, zkChildren } from "../raw-clients.ts";
import { type Fault, type FaultOptions, leaderToHit, restoreAndSettle, settleMs } from "./fault.ts";

export function replayStaleWrite(o: FaultOptions): Fault {
  const name = "replay-stale-write";
  return {
    name,
    description:
      "SIGKILL the leader, then replay a write fenced by its old session: the store must refuse it",
    async inject(ctx) {
      const leader = await leaderToHit(ctx, o);
      const local = ctx.cluster.local;
      const { backend } = local.options;
      const endpoints = local.coordinator.endpoints;
      const electionKey = await campaignKeyOf(backend, endpoints, local.clusterId, leader.epoch);
      await ctx.cluster.kill(leader.member);
      const next = await ctx.cluster.waitForLeader({
        after: leader.epoch,
        timeoutMs: settleMs(o),
        ...(ctx.signal && { signal: ctx.signal }),
      });
      const key = `diagnostics/stale-replay-${leader.epoch}`;
      const outcome = await replay(
        backend,
        endpoints,
        local.clusterId,
        key,
        deposed(leader.epoch, electionKey),
      );
      return {
        fault: name,
        victims: [leader.member.name],
        epoch: String(leader.epoch),
        details: { replayedKey: key, electionKey, newerEpoch: String(next.epoch), ...outcome },
      };
    },
    heal: (ctx) => restoreAndSettle(ctx, o, { fault: name, victims: [] }),
  };
}

/** A session that still believes in itself, as a deposed process would. */
function deposed(epoch: bigint, electionKey: string): LeaderSession {
  return {
    epoch,
    id: `deposed-${epoch}`,
    electionKey,
    signal: new AbortController().signal,
    isValid: () => true,
    assertLeader: () => {},
  };
}

async function replay(
  backend: "etcd" | "zookeeper",
  endpoints: readonly string[],
  clusterId: string,
  key: string,
  session: LeaderSession,
): Promise<{ readonly outcome: "refused" | "landed" | "unknown"; readonly error?: string }> {
  const ha = createHaBackend(
    compileHaConfig({ backend, endpoints: [...endpoints], clusterId }),
    silentLogger,
  );
  try {
    await ha.connect();
    await ha.store.create(key, new TextEncoder().encode("written by a deposed leader"), session);
    return { outcome: "landed" };
  } catch (e: unknown) {
    return e instanceof StaleFenceError
      ? { outcome: "refused", error: e.message }
      : { outcome: "unknown", error: describeCause(e) };
  } finally {
    await ha.close();
  }
}

/** The campaign key (etcd) or latch node (ZooKeeper) whose creation revision / czxid is `epoch`. */
async function campaignKeyOf(
  backend: "etcd" | "zookeeper",
  endpoints: readonly string[],
  clusterId: string,
  epoch: bigint,
): Promise<string> {
  const root = electionRoot(clusterId, JOBMANAGER_ELECTION);
  const key =
    backend === "etcd"
      ? await withEtcd(endpoints, async (client) => {
          const res = await client.getAll().prefix(`${root}/campaign/`).exec();
          return res.kvs.find((k) => BigInt(k.create_revision) === epoch)?.key.toString();
        })
      : await withZooKeeper(endpoints, async (client) => {
          const dir = `${root}/latch`;
          for (const child of await zkChildren(client, dir)) {
            const stat = await new Promise<zookeeper.Stat | undefined>((resolve) =>
              client.exists(`${dir}/${child}`, (e, s) => resolve(e ? undefined : s)),
            );
            if (stat && zxid(stat.czxid) === epoch) return `${dir}/${child}`;
          }
          return undefined;
        });
  if (key !== undefined) return key;
  throw new Error(`replay-stale-write: no campaign key of epoch ${epoch} under ${root}`);
}
