// The command line as operators meet it: help, bad flags and unreachable backends give one clear line and
// a non-zero exit, fast, never a stack trace or a hang.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { spawnVigil } from "./harness/processes.ts";

const PROCESS_ARGS = (role: string): string[] => [
  role,
  "--ha",
  "etcd",
  "--ha-endpoints",
  "127.0.0.1:9",
  "--cluster-id",
  "c",
  "--storage-dir",
  "file:///tmp",
];

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
    [
      [...PROCESS_ARGS("taskmanager"), "--slots", "two"],
      /^vigil taskmanager: --slots: "two" is not an integer ≥ 1\n$/,
    ],
    [
      [...PROCESS_ARGS("jobmanager"), "--rpc-port", "70000"],
      /^vigil jobmanager: --rpc-port: "70000" is not a port number 0-65535/,
    ],
    [["taskmanager", "--config", "/nonexistent/vigil.yaml"], /\/nonexistent\/vigil\.yaml/],
    [["submit"], /^vigil submit: FILE is required; see vigil submit --help\n$/],
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
  it("names the environment variable or config file key that is wrong", async () => {
    const env = spawnVigil([...PROCESS_ARGS("taskmanager")], { env: { ...process.env, VIGIL_SLOTS: "x" } });
    expect((await env.exited()).code).toBe(2);
    expect(env.stderr()).toBe('vigil taskmanager: VIGIL_SLOTS: "x" is not an integer ≥ 1\n');
    const dir = mkdtempSync(join(tmpdir(), "vigil-cli-"));
    try {
      writeFileSync(join(dir, "vigil.yaml"), "slots: 2\nbogus: 1\n");
      const file = spawnVigil(["taskmanager"], { cwd: dir });
      expect((await file.exited()).code).toBe(2);
      expect(file.stderr()).toMatch(/vigil\.yaml: bogus: unknown key; vigil taskmanager accepts ha, /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a client that reaches no JobManager says what it tried and exits 1", async () => {
    const r = await run(["list", "--jobmanager", "127.0.0.1:9", "--timeout", "1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "vigil list: no JobManager leader reachable at 127.0.0.1:9 (unreachable) within 1 s; is the cluster running?\n",
    );
  });

  it.each([["etcd"], ["zookeeper"]])(
    "vigil local (the README's main command) shows the recovery on %s and exits 0",
    async (kind) => {
      const p = spawnVigil(["local", "--ha", kind]);
      const status = await p.exited();
      const out = p.stdout();
      expect(p.stderr()).toBe("");
      expect(status).toEqual({ code: 0, signal: null });
      expect(out).toMatch(/took over after \d+\.\d+ s/);
      expect(out).toMatch(/every TaskManager re-registered/);
      expect(out).toMatch(/recovered from the HA store and RUNNING again/);
      expect(out).toMatch(/cleaned up: every process stopped/);
    },
    60_000,
  );

  it("vigil demo (the HA core's demo) runs every step and exits 0", async () => {
    const p = spawnVigil(["demo"]);
    const status = await p.exited();
    expect(p.stderr()).toBe("");
    expect(status).toEqual({ code: 0, signal: null });
  }, 60_000);
});
