// createClient's connection sharing: by default clients of one address in a process share one HTTP/2
// connection; privateConnection gives each its own (counted as sockets this process holds, Linux /proc).
import { readdirSync, readlinkSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../common/logger.ts";
import { ResourceManagerMethods, type ResourceManagerService } from "../generated/services.ts";
import { createClient, type RpcClient } from "./client.ts";
import { RpcServer } from "./server.ts";

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

function sockets(): number {
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith("socket:");
    } catch {
      return false;
    }
  }).length;
}

async function newSocketsFor(address: string, privateConnection: boolean): Promise<number> {
  const before = sockets();
  const clients: RpcClient<ResourceManagerService>[] = [];
  for (let i = 0; i < 4; i++) {
    const c = createClient(ResourceManagerMethods, address, { privateConnection });
    open.push(c);
    clients.push(c);
    await c.heartbeat({ taskmanagerId: "tm", registrationId: "r", epoch: 1n, tasks: [], freeSlots: 0 });
  }
  return sockets() - before;
}

describe("createClient connections", () => {
  it("shares one connection per address by default, and opens one per client with privateConnection", async () => {
    const server = new RpcServer({ host: "127.0.0.1", port: 0, logger: silentLogger });
    const answer = async () => ({});
    server.addService(ResourceManagerMethods, {
      registerTaskManager: async () => ({
        epoch: 1n,
        jobmanagerName: "jm",
        registrationId: "r",
        heartbeatIntervalMs: 500,
        heartbeatTimeoutMs: 2_000,
      }),
      heartbeat: async () => ({ epoch: 1n, registered: true }),
      updateTaskState: answer,
      acknowledgeCheckpoint: answer,
      declineCheckpoint: answer,
    });
    open.push({ close: () => server.shutdown(100) });
    const address = await server.start();
    // Both ends of a loopback connection live in this process: 2 sockets per connection.
    expect(await newSocketsFor(address, false)).toBe(2);
    expect(await newSocketsFor(address, true)).toBe(8);
  });
});
