// Real etcd 3.4 clusters on loopback for tests. Election timing is shrunk (heartbeat 20 ms, election
// 200 ms) so a member is healthy in ~0.15 s and 1 s leases work.
import { randomUUID } from "node:crypto";
import { request } from "node:http";
import { join } from "node:path";
import { HarnessCluster, type ServerCluster } from "./cluster.ts";
import { Member } from "./member.ts";
import { freePorts } from "./ports.ts";
import { Registration } from "./registry.ts";
import { makeTempDir, startWithRetry } from "./start.ts";

const ETCD = "/usr/bin/etcd";

export function startEtcd(options: { members?: 1 | 3 } = {}): Promise<ServerCluster> {
  const size = options.members ?? 1;
  return startWithRetry(() => buildEtcd(size));
}

async function buildEtcd(size: number): Promise<HarnessCluster> {
  const ports = await freePorts(size * 2);
  const registration = new Registration(`etcd x${size}`);
  const dir = makeTempDir(registration);
  const client = (i: number) => ports[2 * i]!;
  const peer = (i: number) => ports[2 * i + 1]!;
  const name = (i: number) => `m${i}`;
  const initialCluster = Array.from(
    { length: size },
    (_, i) => `${name(i)}=http://127.0.0.1:${peer(i)}`,
  ).join(",");
  const token = `vigil-${randomUUID()}`;
  const members = Array.from({ length: size }, (_, i) => {
    const args = [
      `--name=${name(i)}`,
      `--data-dir=${join(dir, `${name(i)}.etcd`)}`,
      `--listen-client-urls=http://127.0.0.1:${client(i)}`,
      `--advertise-client-urls=http://127.0.0.1:${client(i)}`,
      `--listen-peer-urls=http://127.0.0.1:${peer(i)}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer(i)}`,
      `--initial-cluster=${initialCluster}`,
      // Ignored once the data dir exists, so restarts rejoin rather than bootstrap.
      "--initial-cluster-state=new",
      `--initial-cluster-token=${token}`,
      "--heartbeat-interval=20",
      "--election-timeout=200",
      "--logger=zap",
    ];
    return new Member(
      { command: ETCD, args, cwd: dir, outFile: join(dir, `${name(i)}.log`), marker: dir },
      registration,
    );
  });
  const endpoints = Array.from({ length: size }, (_, i) => `127.0.0.1:${client(i)}`);
  return new HarnessCluster({
    kind: "etcd",
    endpoints,
    members,
    registration,
    dir,
    probe: async (i, t) =>
      (await getJson(client(i), "/health", t))?.["health"] === "true" ? "healthy" : undefined,
    // A new member asks every peer whether it was bootstrapped already; a peer that listens but does not
    // serve yet (it is doing the same) stalls that for a second, twice. Started one after another, each
    // peer either refuses the connection or answers: three members are healthy in ~0.1 s, not 1–2 s.
    listening: async (i, t) => (await getJson(peer(i), "/version", t)) !== undefined,
  });
}

/**
 * GET a JSON object, or undefined when the member does not answer in time. etcd 3.4 answers /health on
 * the client URL with {"health":"true"} only after a linearizable read went through raft (so: this
 * member reaches a quorum with a leader); /version on the peer URL answers once peers are served.
 */
function getJson(
  port: number,
  path: string,
  timeoutMs: number,
): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => {
        try {
          const value: unknown = JSON.parse(body);
          resolve(
            typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined,
          );
        } catch {
          resolve(undefined);
        }
      });
      res.on("error", () => resolve(undefined));
    });
    // `timeout` only reports inactivity; destroying the request settles the promise through `error`.
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve(undefined));
    req.end();
  });
}
