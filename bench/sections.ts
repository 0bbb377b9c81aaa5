// The prose of bench/RESULTS.md: what was measured and how, around the tables that report.ts renders.
import { TTL_SECONDS } from "./contestants.ts";
import type { MachineInfo } from "./machine.ts";
import { STORE_DEFAULTS } from "./store.ts";

/** ZooKeeper tickTime of the servers the benchmark starts; its session expiry runs in tick-sized buckets. */
export const ZK_TICK_MS = 1_000;
/** DESIGN.md §6: SIGKILL → new leader within TTL + 0.3 s at p99 (ZooKeeper: plus one tick). */
export const FAILOVER_TARGET_MS = TTL_SECONDS * 1000 + 300;
/** DESIGN.md §6: SIGTERM → new leader in under 0.25 s. */
export const GRACEFUL_TARGET_MS = 250;

export function header(
  m: MachineInfo,
  versions: readonly string[],
  serversText: string,
  command: string,
): string {
  return `# Benchmark results

The latest results of \`npm run bench\` (bench/run.ts rewrites this file; a run with \`--only\` rewrites its own
section). Targets are DESIGN.md §6; the other contestants are the reference on the same server in the same run.

- Date: ${m.date}
- Machine: ${m.uname}; ${m.cpu}, ${m.cores} cores, ${m.memory} memory
- Software: Node ${m.node}; ${versions.join("; ")}; ${m.libraries}
- Servers: ${serversText}
- Command: \`${command}\` (each section below names the command that measured it)
`;
}

export function failoverSection(table: string, details: string, stamp: string): string {
  return `## Failover: SIGKILL the leader → the standby's grant

${stamp}

Every contestant runs the same loop: two contender processes; once one leads and the other is queued behind it
(its campaign key / latch node is visible on the server), a random 0.2–0.9 s pause (so the kill lands at a random
phase of the keepalive cycle), SIGKILL the leader, and time from just before the kill to the moment the
standby's grant line reaches this process (both on this process's monotonic clock); then a fresh contender is
started as the new standby. TTL / session timeout ${TTL_SECONDS} s everywhere. Target (vigil): p99 ≤ TTL + 0.3 s,
ZooKeeper plus one server tick (${ZK_TICK_MS} ms). Percentiles are nearest-rank, so with n = 20 p99 is the maximum.

${table}

Where the spread comes from: etcd 3.4 revokes expired leases in a loop that runs every 500 ms
(\`lessor.runLoop\`), so after a SIGKILL a dead client's campaign key goes between TTL − (time since its last
keepalive) and TTL + 0.5 s; etcd3's Election and etcdctl wait for that loop, so their window is roughly
[1.3 s, 2.5 s] and they can miss TTL + 0.3 s. vigil's standby right behind the leader does not wait for it: it
polls the leader lease's remaining TTL every 200 ms in its last second and, once etcd has proven the lease
expired (src/ha/etcd/predecessor-reaper.ts explains the proof; leases of 2 s and more), revokes it itself, so
its window ends at about TTL + 0.2 s plus a round trip. ZooKeeper expires sessions in tick-sized buckets, so
there the window is [timeout − time since the last ping, timeout + one tick].

Samples (s):

${details}`;
}

export function gracefulSection(table: string, details: string, stamp: string): string {
  return `## Graceful handover: SIGTERM the leader → the standby's grant

${stamp}

The same loop with SIGTERM: each contender resigns on SIGTERM (vigil deletes its campaign key / latch node,
etcd3's \`campaign.resign()\`, etcdctl unlocks, the recipe closes its session). Target (vigil): under ${GRACEFUL_TARGET_MS / 1000} s.

${table}

Samples (s):

${details}`;
}

export function storeSection(table: string, stamp: string): string {
  const o = STORE_DEFAULTS;
  return `## Store throughput: fenced vs raw, same server

${stamp}

In one process, one connected client per side: vigil's fenced store (\`createHaBackend\` + a leader session
from \`LeaderElectionService\`) against the raw client. put = vigil \`store.replace\` (one transaction with the
fence check and a compare-and-set on the key's version) vs raw etcd3 \`put(k).value(v)\` / node-zookeeper-client
\`setData(path, v, -1)\` (unconditional, unfenced); get = \`store.get\` vs \`get(k).buffer()\` / \`getData\`.
${o.valueBytes}-byte values, ${o.concurrency} requests in flight (one key per worker), ${o.durationMs / 1000} s per side and
operation in ${o.slices} alternating slices (raw, fenced, raw, …) after a 0.3 s warm-up. Target: fenced ≥ half of raw.

${table}`;
}
