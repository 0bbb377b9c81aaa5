// vitest globalSetup for the integration suites: reaps servers and vigil processes that earlier,
// crashed or interrupted runs left behind, and again at teardown for anything this run leaked.
import { randomUUID } from "node:crypto";
import { TEST_RUN_ID_ENV } from "../../src/config/environment.ts";
import { reapStale } from "../../src/local/stale.ts";

export default async function setup(): Promise<() => Promise<void>> {
  const runId = randomUUID();
  // Workers inherit the environment, so their records carry this run's id (see registry.ts).
  process.env[TEST_RUN_ID_ENV] = runId;
  const before = await reapStale();
  if (before > 0) console.warn(`[vigil-ha] reaped ${before} leftover server record(s) from earlier runs`);
  return async () => {
    const after = await reapStale({ runId });
    if (after > 0) console.warn(`[vigil-ha] reaped ${after} server record(s) this run did not clean up`);
  };
}
