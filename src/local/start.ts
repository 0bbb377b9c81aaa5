// Shared start-up plumbing: temp dirs and the retry on lost port races.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type HarnessCluster, isPortConflict } from "./cluster.ts";
import { type Registration, TEMP_PREFIX } from "./registry.ts";

const ATTEMPTS = 3;

export function makeTempDir(registration: Registration): string {
  const dir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
  registration.addDir(dir);
  return dir;
}

/**
 * Builds and starts a cluster; when a member lost a port to another process between probe and bind
 * (other suites run servers on this machine too), throws that attempt away and retries on new ports.
 */
export async function startWithRetry(build: () => Promise<HarnessCluster>): Promise<HarnessCluster> {
  for (let attempt = 1; ; attempt++) {
    const cluster = await build();
    try {
      await cluster.startAll();
      return cluster;
    } catch (e: unknown) {
      await cluster.stop();
      if (attempt >= ATTEMPTS || !isPortConflict(e)) throw e;
    }
  }
}
