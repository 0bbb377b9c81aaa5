import { describe, expect, it } from "vitest";
import { FAULT_NAMES, FAULTS, faultsFor, requirementsOf } from "./index.ts";

const options = { ttlMs: 2_000 };

describe("nemesis catalogue", () => {
  it("builds a fresh fault per name, named as asked", () => {
    const [a, b] = faultsFor(["kill-leader", "kill-leader"], options);
    expect(a?.name).toBe("kill-leader");
    expect(a).not.toBe(b);
    for (const name of FAULT_NAMES) expect(FAULTS[name](options).name).toBe(name);
  });

  it("names every valid fault when one is unknown", () => {
    expect(() => faultsFor(["kill-leader", "kill-everything"], options)).toThrow(
      /unknown nemesis "kill-everything"; valid names: kill-leader, kill-all-jobmanagers, .*drop-replies/,
    );
  });

  it("gives the pause and the partition time past the TTL", () => {
    const [pause, partition, kill] = faultsFor(["pause-leader", "partition-leader", "kill-leader"], options);
    expect(pause?.minDurationMs).toBeGreaterThan(options.ttlMs);
    expect(partition?.minDurationMs).toBeGreaterThan(options.ttlMs);
    expect(kill?.minDurationMs).toBeUndefined();
  });

  it("says which cluster a set of faults needs", () => {
    expect(requirementsOf(faultsFor(["kill-leader", "kill-taskmanager"], options))).toEqual({
      coordinatorMembers: 1,
      proxyCoordinator: false,
    });
    expect(requirementsOf(faultsFor(["kill-coordinator-majority", "drop-replies"], options))).toEqual({
      coordinatorMembers: 3,
      proxyCoordinator: true,
    });
  });
});
