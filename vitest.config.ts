import { defineConfig } from "vitest/config";

// Unit tests: fast, no servers. Integration suites against real etcd and ZooKeeper live in ha-tests/.
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "scripts/**/*.test.ts", "chaos/**/*.test.ts"],
    testTimeout: 10_000,
  },
});
