// The contract suites on real ZooKeeper: in process on one server, and with contenders as processes.
import { afterAll, beforeAll } from "vitest";
import { electionContract } from "./contract/election-contract.ts";
import { processContract } from "./contract/process-contract.ts";
import { realFixture } from "./contract/real-fixture.ts";
import { storeContract } from "./contract/store-contract.ts";
import { type ServerCluster, startZooKeeper } from "./harness/servers.ts";

let zk: ServerCluster | undefined;
beforeAll(async () => {
  zk = await startZooKeeper({ servers: 1, tickTimeMs: 1_000 });
});
afterAll(async () => {
  await zk?.stop();
});

const fixture = realFixture("zookeeper", () => zk!);
electionContract(() => fixture);
storeContract(() => fixture);
processContract(() => fixture);
