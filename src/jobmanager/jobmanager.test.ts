import { afterEach, describe, expect, it } from "vitest";
import { NotLeaderError } from "../common/errors.ts";
import { RecordedEvents } from "../common/events.ts";
import { silentLogger } from "../common/logger.ts";
import { DispatcherMethods } from "../generated/services.ts";
import { MemoryCoordinator } from "../ha/memory/index.ts";
import { waitUntil } from "../ha/testing.ts";
import { createClient } from "../rpc/client.ts";
import { JOBMANAGER_DEFAULTS, JobManager } from "./jobmanager.ts";
import { TEST_HA, testGraph } from "./testing.ts";

const open: Array<{ close(): unknown }> = [];
let coordinator: MemoryCoordinator;

afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  coordinator?.close();
});

function jobManager(name: string, events: RecordedEvents): JobManager {
  const jm = new JobManager({
    name,
    ha: TEST_HA,
    storageDir: undefined,
    rpcHost: "127.0.0.1",
    rpcPort: 0,
    ...JOBMANAGER_DEFAULTS,
    logger: silentLogger,
    events: events.sink,
    memory: coordinator,
  });
  open.push(jm);
  return jm;
}

describe("JobManager over gRPC", () => {
  it("serves the leader's Dispatcher; a standby redirects with the leader's address; close hands over at once", async () => {
    coordinator = new MemoryCoordinator();
    const aEvents = new RecordedEvents();
    const bEvents = new RecordedEvents();
    const a = jobManager("jm-a", aEvents);
    const aAddress = await a.start();
    expect(aAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(a.address).toBe(aAddress);
    await waitUntil(() => aEvents.of("published").length === 1);
    expect(aEvents.of("jobmanager-started")).toEqual([
      { event: "jobmanager-started", name: "jm-a", address: aAddress },
    ]);
    const b = jobManager("jm-b", bEvents);
    const bAddress = await b.start();

    const toA = createClient(DispatcherMethods, aAddress);
    const toB = createClient(DispatcherMethods, bAddress);
    open.push(toA, toB);
    expect(await toA.submitJob({ graph: testGraph("j1") })).toMatchObject({
      jobId: "j1",
      alreadySubmitted: false,
    });
    expect(await toB.getLeader({})).toMatchObject({ name: "jm-a", address: aAddress });
    const refused = toB.listJobs({});
    await expect(refused).rejects.toBeInstanceOf(NotLeaderError);
    await expect(refused).rejects.toMatchObject({ leaderAddress: aAddress });

    await a.close();
    await a.close();
    expect(aEvents.of("revoked")).toHaveLength(1);
    await waitUntil(() => bEvents.of("published").length === 1, 1_000);
    expect(bEvents.of("job-recovered")).toMatchObject([{ job: "j1" }]);
    expect((await toB.listJobs({})).jobs.map((j) => j.jobId)).toEqual(["j1"]);
  });
});
