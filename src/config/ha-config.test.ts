import { describe, expect, it } from "vitest";
import { ConfigError } from "../common/errors.ts";
import { compileHaConfig, defaultSafetyMargin } from "./ha-config.ts";

const names = {
  backend: "--ha",
  endpoints: "--ha-endpoints",
  clusterId: "--cluster-id",
  ttlMs: "--ttl",
} as const;

function error(options: Parameters<typeof compileHaConfig>[0]): string {
  try {
    compileHaConfig(options, names);
  } catch (e: unknown) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("compileHaConfig", () => {
  it("fills defaults and splits endpoints", () => {
    const c = compileHaConfig({
      backend: "etcd",
      endpoints: "127.0.0.1:2379, [::1]:2380",
      clusterId: "prod-1",
    });
    expect(c).toMatchObject({
      backend: "etcd",
      endpoints: ["127.0.0.1:2379", "[::1]:2380"],
      clusterId: "prod-1",
      ttlMs: 5000,
    });
    expect(c.safetyMarginMs).toBe(defaultSafetyMargin(5000));
  });

  it("names the flag that is wrong", () => {
    expect(error({ endpoints: "a:1", clusterId: "c" })).toMatch(/^--ha is required/);
    expect(error({ backend: "consul", endpoints: "a:1", clusterId: "c" })).toMatch(
      /^--ha: unknown backend "consul"/,
    );
    expect(error({ backend: "etcd", clusterId: "c" })).toMatch(/^--ha-endpoints is required/);
    expect(error({ backend: "etcd", endpoints: "localhost", clusterId: "c" })).toMatch(
      /^--ha-endpoints: "localhost" is not HOST:PORT/,
    );
    expect(error({ backend: "etcd", endpoints: "a:70000", clusterId: "c" })).toMatch(/port 1-65535/);
    expect(error({ backend: "etcd", endpoints: "a:1", clusterId: "a/b" })).toMatch(
      /^--cluster-id: "a\/b" is invalid/,
    );
    expect(error({ backend: "etcd", endpoints: "a:1", clusterId: "c", ttlMs: 1500 })).toMatch(
      /^--ttl: etcd lease TTLs are whole seconds/,
    );
    expect(error({ backend: "zookeeper", endpoints: "a:1", clusterId: "c", ttlMs: 500 })).toMatch(
      /^--ttl: 0.5 s is invalid; it must be at least 1 s/,
    );
  });

  it("accepts fractional session timeouts for ZooKeeper and keeps the margin under half the TTL", () => {
    const c = compileHaConfig({ backend: "zookeeper", endpoints: "a:1", clusterId: "c", ttlMs: 2500 });
    expect(c.ttlMs).toBe(2500);
    expect(c.safetyMarginMs).toBeLessThan(1250);
    expect(defaultSafetyMargin(100_000)).toBe(1000);
    expect(defaultSafetyMargin(1000)).toBe(100);
  });
});
