// The contract suites on real etcd: in process on one member, and with contenders as processes.
import { afterAll, beforeAll } from "vitest";
import { electionContract } from "./contract/election-contract.ts";
import { processContract } from "./contract/process-contract.ts";
import { realFixture } from "./contract/real-fixture.ts";
import { storeContract } from "./contract/store-contract.ts";
import { type ServerCluster, startEtcd } from "./harness/servers.ts";

let etcd: ServerCluster | undefined;
beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
});
afterAll(async () => {
  await etcd?.stop();
});

const fixture = realFixture("etcd", () => etcd!);
electionContract(() => fixture);
storeContract(() => fixture);
processContract(() => fixture);
