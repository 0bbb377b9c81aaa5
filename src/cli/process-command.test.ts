import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { waitUntil } from "../ha/testing.ts";
import { helpText } from "./args.ts";
import { processFlags, type ServerProcess, serveUntilShutdown } from "./process-command.ts";
import { Shutdown } from "./signals.ts";

/** A server whose start() and close() the test completes by hand, recording the order of calls. */
class FakeServer implements ServerProcess {
  readonly calls: string[] = [];
  private finishStart: ((address: string) => void) | undefined;
  private failStart: ((e: Error) => void) | undefined;
  private finishClose: (() => void) | undefined;

  start(): Promise<string> {
    this.calls.push("start");
    return new Promise((resolve, reject) => {
      this.finishStart = resolve;
      this.failStart = reject;
    });
  }
  close(): Promise<void> {
    this.calls.push("close");
    return new Promise((resolve) => {
      this.finishClose = resolve;
    });
  }
  started(address = "127.0.0.1:1"): void {
    this.finishStart!(address);
  }
  failed(e: Error): void {
    this.failStart!(e);
  }
  closed(): void {
    this.finishClose!();
  }
}

let lines: string[];
let shutdown: Shutdown;
beforeEach(() => {
  lines = [];
  vi.spyOn(process.stdout, "write").mockImplementation(((chunk: string) => {
    lines.push(chunk);
    return true;
  }) as typeof process.stdout.write);
  vi.spyOn(process.stderr, "write").mockImplementation((() => true) as typeof process.stderr.write);
  shutdown = new Shutdown();
});
afterEach(() => {
  shutdown.dispose();
  vi.restoreAllMocks();
});
const events = (): unknown[] => lines.map((l) => JSON.parse(l) as unknown);

describe("processFlags", () => {
  it("offers each process exactly its own keys, plus --config and --help", () => {
    const jm = Object.keys(processFlags("jobmanager"));
    const tm = Object.keys(processFlags("taskmanager"));
    expect(jm).toContain("heartbeat-timeout");
    expect(jm).not.toContain("slots");
    expect(tm).toContain("slots");
    expect(tm).not.toContain("heartbeat-interval");
    for (const f of [jm, tm])
      expect(f).toEqual(expect.arrayContaining(["config", "help", "ha", "storage-dir"]));
    const help = helpText({
      name: "taskmanager",
      summary: "s",
      usage: "u",
      flags: processFlags("taskmanager"),
      run: async () => 0,
    });
    expect(help).toMatch(/--slots N +task slots offered \(default: 1\)/);
  });
});

describe("serveUntilShutdown", () => {
  it("serves until SIGTERM, then closes and exits 0", async () => {
    const server = new FakeServer();
    const done = serveUntilShutdown(server, shutdown, { name: "jm-1", command: "jobmanager" });
    server.started();
    await Promise.resolve();
    expect(server.calls).toEqual(["start"]);
    process.emit("SIGTERM", "SIGTERM");
    await waitUntil(() => server.calls.length === 2);
    expect(server.calls).toEqual(["start", "close"]);
    expect(events()).toEqual([{ event: "stopping", name: "jm-1", cause: "SIGTERM" }]);
    server.closed();
    expect(await done).toBe(0);
    expect(events()).toEqual([
      { event: "stopping", name: "jm-1", cause: "SIGTERM" },
      { event: "stopped", name: "jm-1" },
    ]);
  });

  it("exits 1 at once on a second signal during the shutdown", async () => {
    const server = new FakeServer();
    const forced: number[] = [];
    const done = serveUntilShutdown(server, shutdown, {
      name: "tm-1",
      command: "taskmanager",
      forceExit: (code) => forced.push(code),
      duplicateWindowMs: 0,
    });
    server.started();
    process.emit("SIGINT", "SIGINT");
    await waitUntil(() => server.calls.includes("close"));
    expect(forced).toEqual([]);
    process.emit("SIGINT", "SIGINT");
    expect(forced).toEqual([1]);
    server.closed();
    await done;
    // The force listeners are gone once closed: a later signal forces nothing.
    process.emit("SIGTERM", "SIGTERM");
    expect(forced).toEqual([1]);
  });

  it("takes a signal delivered twice at once (terminal and wrapper) as one request", async () => {
    const server = new FakeServer();
    const forced: number[] = [];
    const done = serveUntilShutdown(server, shutdown, {
      name: "tm-1",
      command: "taskmanager",
      forceExit: (code) => forced.push(code),
      duplicateWindowMs: 60_000,
    });
    server.started();
    process.emit("SIGINT", "SIGINT");
    await waitUntil(() => server.calls.includes("close"));
    process.emit("SIGINT", "SIGINT");
    expect(forced).toEqual([]);
    server.closed();
    expect(await done).toBe(0);
  });

  it("closes a server whose start is interrupted by a signal", async () => {
    const server = new FakeServer();
    const done = serveUntilShutdown(server, shutdown, { name: "jm-1", command: "jobmanager" });
    process.emit("SIGTERM", "SIGTERM");
    await waitUntil(() => server.calls.includes("close"));
    server.closed();
    expect(await done).toBe(0);
    server.failed(new Error("start aborted by close"));
  });

  it("closes what was started and rethrows when start fails", async () => {
    const server = new FakeServer();
    const done = serveUntilShutdown(server, shutdown, { name: "jm-1", command: "jobmanager" });
    server.failed(new Error("cannot listen on 127.0.0.1:6123"));
    await waitUntil(() => server.calls.includes("close"));
    server.closed();
    await expect(done).rejects.toThrow("cannot listen on 127.0.0.1:6123");
    expect(events()).toEqual([]);
  });
});
