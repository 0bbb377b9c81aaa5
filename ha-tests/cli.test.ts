// The command line as operators meet it: help, bad flags and unreachable backends give one clear line and
// a non-zero exit, fast, never a stack trace or a hang.
import { describe, expect, it } from "vitest";
import { spawnVigil } from "./harness/processes.ts";

async function run(args: string[]): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = performance.now();
  const p = spawnVigil(args);
  const { code } = await p.exited();
  return { code, stderr: p.stderr(), ms: performance.now() - started };
}

describe("vigil command line", () => {
  it("explains itself with --help", async () => {
    const p = spawnVigil(["elect", "--help"]);
    expect((await p.exited()).code).toBe(0);
    const top = spawnVigil(["--help"]);
    expect((await top.exited()).code).toBe(0);
  });

  it.each([
    [["elect", "--bogus"], /^vigil elect: unknown option --bogus; see vigil elect --help\n$/],
    [
      ["elect", "--ha", "etcd", "--cluster-id", "c", "--name", "a"],
      /^vigil elect: --ha-endpoints is required for etcd/,
    ],
    [
      ["elect", "--ha", "consul", "--ha-endpoints", "h:1", "--cluster-id", "c", "--name", "a"],
      /--ha: unknown backend "consul"/,
    ],
    [
      ["elect", "--ha", "etcd", "--ha-endpoints", "h:1", "--cluster-id", "c"],
      /^vigil elect: --name is required/,
    ],
    [
      ["elect", "--ha", "etcd", "--ha-endpoints", "h:1", "--cluster-id", "c", "--name", "a", "--ttl", "1.5"],
      /--ttl: etcd lease TTLs are whole seconds/,
    ],
    [
      [
        "elect",
        "--ha",
        "etcd",
        "--ha-endpoints",
        "h:1",
        "--cluster-id",
        "c",
        "--name",
        "a",
        "--election",
        "jobmanager",
      ],
      /JobManagers' election/,
    ],
    [
      ["leader", "--ha", "etcd", "--ha-endpoints", "nohost", "--cluster-id", "c"],
      /--ha-endpoints: "nohost" is not HOST:PORT/,
    ],
    [["nonsense"], /^vigil: unknown command "nonsense"/],
  ])("refuses %j with one clear line and exit 2", async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it.each([["etcd"], ["zookeeper"]])(
    "fails within the connect timeout when %s is unreachable",
    async (kind) => {
      for (const command of ["elect", "leader"]) {
        const args = [
          command,
          "--ha",
          kind,
          "--ha-endpoints",
          "127.0.0.1:9",
          "--cluster-id",
          "c",
          "--connect-timeout",
          "1",
        ];
        const r = await run(command === "elect" ? [...args, "--name", "a"] : args);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/127\.0\.0\.1:9/);
        expect(r.stderr).toMatch(/check that/);
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
        // Process start-up (tsx) takes about a second on this machine; the wait itself is bounded by 1 s.
        expect(r.ms).toBeLessThan(6_000);
      }
    },
  );
  it("a SIGTERM while still connecting is a clean stop, not the default kill", async () => {
    const p = spawnVigil([
      "elect",
      "--ha",
      "etcd",
      "--ha-endpoints",
      "127.0.0.1:9",
      "--cluster-id",
      "c",
      "--name",
      "a",
      "--connect-timeout",
      "20",
    ]);
    await p.waitForEvent((e) => e["event"] === "connecting", 10_000);
    p.kill("SIGTERM");
    expect(await p.exited()).toEqual({ code: 0, signal: null });
    expect(p.events.at(-1)).toEqual({ event: "stopped", name: "a" });
  });
  it("vigil demo (the README's main command) runs every step and exits 0", async () => {
    const p = spawnVigil(["demo"]);
    const status = await p.exited();
    expect(p.stderr()).toBe("");
    expect(status).toEqual({ code: 0, signal: null });
  }, 60_000);
});
