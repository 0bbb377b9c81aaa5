// The contract suites on the in-memory backend (several clients on one coordinator).
import { afterAll } from "vitest";
import { MemoryCoordinator, MemoryHaBackend } from "../src/ha/memory/index.ts";
import { electionContract } from "./contract/election-contract.ts";
import type { BackendFixture } from "./contract/fixture.ts";
import { storeContract } from "./contract/store-contract.ts";

const coordinator = new MemoryCoordinator();
afterAll(() => coordinator.close());

const fixture: BackendFixture = {
  kind: "memory",
  ttlMs: 1_000,
  client: async (clusterId) => {
    const backend = new MemoryHaBackend(coordinator, { clusterId, ttlMs: 1_000, safetyMarginMs: 100 });
    await backend.connect();
    return backend;
  },
};

electionContract(() => fixture);
storeContract(() => fixture);
