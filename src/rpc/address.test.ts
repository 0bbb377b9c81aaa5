import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { advertisedAddress } from "./address.ts";

describe("advertisedAddress", () => {
  it("keeps a concrete bound address", () => {
    expect(advertisedAddress("127.0.0.1:6123")).toBe("127.0.0.1:6123");
  });
  it("publishes this machine's hostname for a wildcard bind", () => {
    expect(advertisedAddress("0.0.0.0:6123")).toBe(`${hostname()}:6123`);
    expect(advertisedAddress("[::]:6123")).toBe(`${hostname()}:6123`);
  });
  it("publishes the advertised host when one is given", () => {
    expect(advertisedAddress("0.0.0.0:6123", "jm-1.example")).toBe("jm-1.example:6123");
    expect(advertisedAddress("0.0.0.0:6123", "fd00::1")).toBe("[fd00::1]:6123");
  });
});
