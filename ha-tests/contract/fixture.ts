// What a contract suite needs from a backend: fresh clients on one cluster, as separate processes would have.
import { silentLogger } from "../../src/common/logger.ts";
import type { HaBackend } from "../../src/ha/backend.ts";
import { LeaderElectionService } from "../../src/ha/leader-election-service.ts";
import type { LeaderSession } from "../../src/ha/leader-session.ts";
import { RecordingContender, waitUntil } from "../../src/ha/testing.ts";

export interface BackendFixture {
  readonly kind: "etcd" | "zookeeper" | "memory";
  /** TTL / session timeout the clients use, in ms. */
  readonly ttlMs: number;
  /** A new connected client of the shared cluster; closed by the suite. */
  client(clusterId: string): Promise<HaBackend>;
}

export interface Contender {
  readonly backend: HaBackend;
  readonly service: LeaderElectionService;
  readonly rec: RecordingContender;
}

/** Tracks what a test opened and closes it, newest first. */
export class Closer {
  private readonly items: Array<{ close(): Promise<void> }> = [];
  add<T extends { close(): Promise<void> }>(item: T): T {
    this.items.push(item);
    return item;
  }
  async closeAll(): Promise<void> {
    for (const item of this.items.splice(0).reverse()) {
      await item.close().catch(() => {});
    }
  }
}

export async function startContender(
  fixture: BackendFixture,
  closer: Closer,
  clusterId: string,
  name: string,
  election = "contract",
): Promise<Contender> {
  const backend = closer.add(await fixture.client(clusterId));
  const service = closer.add(
    new LeaderElectionService(backend.createElectionDriver(election), name, silentLogger),
  );
  const rec = new RecordingContender(service, name, `${name}.example:7000`);
  await service.start(rec);
  return { backend, service, rec };
}

/** Starts a contender and waits until it leads (it is alone in a fresh election). */
export async function leaderOf(
  fixture: BackendFixture,
  closer: Closer,
  clusterId: string,
  name: string,
): Promise<Contender & { session: LeaderSession }> {
  const c = await startContender(fixture, closer, clusterId, name);
  await waitUntil(() => c.rec.leading, 10_000, `${name} to lead`);
  return { ...c, session: c.rec.session! };
}

let counter = 0;
/** A cluster id unique to this test, so tests never see each other's keys. */
export function freshClusterId(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}
