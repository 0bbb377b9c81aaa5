import { describe, expect, it } from "vitest";
import { ConfigError } from "../common/errors.ts";
import { clusterTargetFrom, positionalsOf } from "./cluster-flags.ts";

function usageError(f: () => unknown): string {
  try {
    f();
  } catch (e: unknown) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("clusterTargetFrom", () => {
  it("takes JobManager addresses or an HA backend, with the --timeout for every call", () => {
    const direct = clusterTargetFrom({ jobmanager: "127.0.0.1:6123, [::1]:6124" }, "list");
    expect(direct.via).toEqual({ addresses: ["127.0.0.1:6123", "[::1]:6124"] });
    expect(direct.call).toEqual({ timeoutMs: 10_000 });
    const viaHa = clusterTargetFrom(
      { ha: "zookeeper", "ha-endpoints": "zk:2181", "cluster-id": "prod", timeout: "2.5" },
      "list",
    );
    expect(viaHa.via).toMatchObject({
      ha: { backend: "zookeeper", endpoints: ["zk:2181"], clusterId: "prod" },
    });
    expect(viaHa.call).toEqual({ timeoutMs: 2500 });
  });

  it("refuses missing, conflicting or malformed targets before connecting", () => {
    expect(usageError(() => clusterTargetFrom({}, "list"))).toBe(
      "say where the cluster is: --jobmanager HOST:PORT[,…], or --ha etcd|zookeeper --ha-endpoints HOST:PORT[,…] --cluster-id C; see vigil list --help",
    );
    expect(usageError(() => clusterTargetFrom({ jobmanager: "a:1", "cluster-id": "c" }, "list"))).toBe(
      "--jobmanager and --cluster-id both say where the cluster is; give one of them",
    );
    expect(usageError(() => clusterTargetFrom({ jobmanager: "a:70000" }, "list"))).toBe(
      '--jobmanager: "a:70000" is not HOST:PORT (port 1-65535)',
    );
    expect(usageError(() => clusterTargetFrom({ jobmanager: " , " }, "list"))).toMatch(/no address given/);
    expect(usageError(() => clusterTargetFrom({ ha: "etcd", "cluster-id": "c" }, "list"))).toMatch(
      /^--ha-endpoints is required for etcd/,
    );
    expect(usageError(() => clusterTargetFrom({ jobmanager: "a:1", timeout: "0" }, "list"))).toBe(
      '--timeout: "0" is not a positive number of seconds',
    );
  });
});

describe("positionalsOf", () => {
  it("names the missing or the extra argument", () => {
    expect(positionalsOf(["job.json"], ["FILE"], "submit")).toEqual(["job.json"]);
    expect(usageError(() => positionalsOf([], ["FILE"], "submit"))).toBe(
      "FILE is required; see vigil submit --help",
    );
    expect(usageError(() => positionalsOf(["a", "b"], ["JOB"], "cancel"))).toBe(
      'unexpected argument "b"; see vigil cancel --help',
    );
  });
});
