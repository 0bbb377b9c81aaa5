import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/common/errors.ts";
import type { ChaosCluster } from "./chaos-cluster.ts";
import { type NemesisContext, pick } from "./fault.ts";
import { FAULTS } from "./index.ts";

/** Just enough of a cluster for the requirement checks, which run before anything is touched. */
function smallCluster(): NemesisContext {
  const cluster = {
    coordinator: { kind: "etcd", size: 1 },
    local: { options: { proxyCoordinator: false } },
  } as unknown as ChaosCluster;
  return { cluster };
}

describe("fault requirements", () => {
  it("refuses a coordinator fault on a one-member coordinator, naming the option", async () => {
    for (const name of ["kill-coordinator-minority", "kill-coordinator-majority"] as const) {
      const inject = FAULTS[name]({ ttlMs: 2_000 }).inject(smallCluster());
      await expect(inject).rejects.toBeInstanceOf(ConfigError);
      await expect(inject).rejects.toThrow(
        `${name} needs a coordinator of 3 members, this etcd has 1: start the cluster with coordinatorMembers: 3`,
      );
    }
  });

  it("refuses a network fault without coordinator proxies, naming the option", async () => {
    for (const name of ["partition-leader", "drop-replies"] as const) {
      await expect(FAULTS[name]({ ttlMs: 2_000 }).inject(smallCluster())).rejects.toThrow(
        /needs a TCP proxy between each JobManager and the coordinator: start the cluster with proxyCoordinator: true/,
      );
    }
  });
});

describe("pick", () => {
  it("takes the first items without a random source", () => {
    expect(pick(smallCluster(), ["a", "b", "c"], 2)).toEqual(["a", "b"]);
  });

  it("takes distinct items chosen by the random source, never more than there are", () => {
    const ints = [2, 0, 0];
    const ctx = { ...smallCluster(), random: { int: () => ints.shift() ?? 0 } };
    expect(pick(ctx, ["a", "b", "c"], 5)).toEqual(["c", "a", "b"]);
  });
});
