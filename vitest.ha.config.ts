import { defineConfig } from "vitest/config";

// Integration suites: each file starts its own etcd / ZooKeeper servers on free loopback ports.
// Files run one at a time: the machine has two cores and failover timings must not starve.
export default defineConfig({
  test: {
    include: ["ha-tests/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    globalSetup: ["ha-tests/harness/global-setup.ts"],
  },
});
