// The prose of bench/RESULTS.md: what was measured and how, around the tables that report.ts renders.
import { TTL_SECONDS } from "./contestants.ts";
import { JOB_FAILOVER_SHAPE } from "./jobs-failover.ts";
import type { MachineInfo } from "./machine.ts";
import { STORE_DEFAULTS } from "./store.ts";
import { SCALE_HEARTBEAT } from "./taskmanager-scale.ts";

/** ZooKeeper tickTime of the servers the benchmark starts; its session expiry runs in tick-sized buckets. */
export const ZK_TICK_MS = 1_000;
/** DESIGN.md §6: SIGKILL → new leader within TTL + 0.3 s at p99 (ZooKeeper: plus one tick). */
export const FAILOVER_TARGET_MS = TTL_SECONDS * 1000 + 300;
/** DESIGN.md §6: SIGTERM → new leader in under 0.25 s. */
export const GRACEFUL_TARGET_MS = 250;

/** The head of RESULTS.md; `servers` names the servers each section was measured on. */
export function header(
  m: MachineInfo,
  versions: readonly string[],
  servers: ReadonlyMap<string, string>,
  command: string,
): string {
  const serverLines = [...servers].map(([section, text]) => `  - ${section}: ${text}`).join("\n");
  return `# Benchmark results

The latest results of \`npm run bench\` (bench/run.ts rewrites this file; a run with \`--only\` rewrites its own
section). Targets are DESIGN.md §6; the other contestants are the reference on the same server in the same run.

- Date: ${m.date}
- Machine: ${m.uname}; ${m.cpu}, ${m.cores} cores, ${m.memory} memory
- Software: Node ${m.node}; ${versions.join("; ")}; ${m.libraries}
- Servers:
${serverLines}
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

/** DESIGN.md §6: leader SIGKILL → the job processing records again within TTL + 1.5 s at p99. */
export const JOB_RUNNING_TARGET_MS = TTL_SECONDS * 1000 + 1_500;

export function jobFailoverSection(table: string, details: string, stamp: string): string {
  const s = JOB_FAILOVER_SHAPE;
  return `## Job failover: SIGKILL the JobManager leader → every task of the job RUNNING again

${stamp}

A real cluster per backend through \`LocalCluster\` (src/local/vigil-cluster.ts): a private etcd (single member)
or ZooKeeper (standalone, tickTime 500 ms), ${s.jobmanagers} \`vigil jobmanager\` and ${s.taskmanagers} \`vigil taskmanager\` processes × ${s.slots} slots,
TTL / session timeout ${TTL_SECONDS} s, heartbeats every 0.5 s with a 2 s timeout (the defaults). One job, submitted through
\`ClusterClient.viaHa\`: \`source.sequence\` (unbounded, 20 records/s per subtask) → forward → \`sink.discard\`,
parallelism ${s.parallelism} (two chained tasks, one slot each). Each round: wait until the leader reports the job RUNNING under its epoch, a
random 0.2–0.9 s pause, SIGKILL the leader, start a replacement JobManager (so two standbys remain), and time
from just before the kill to the moment each line reaches this process: the new leader's \`published\`, the
last TaskManager's \`registered\` for the new epoch, and the new leader's \`job-state RUNNING\` for the job with
its epoch (it reports RUNNING once every task of the job reports RUNNING). After the run, the TaskManagers'
\`task-running\` / \`task-stopped\` events are checked for two runs of one subtask at once. Target: RUNNING p99 ≤
TTL + 1.5 s (DESIGN.md §6); percentiles are nearest-rank, so with n = 10 p99 is the maximum.

${table}

Where the time goes: the new leader is elected as in the failover section above (it publishes after its
recovery: the TaskManager registry, the JobGraphs and results are read first). TaskManagers register with it
within a round trip of the publication; the job master then waits, as DESIGN.md's TaskManager-registry rule
says, until every TaskManager the old leader may have deployed to has re-registered (each stops its older tasks
first) or \`heartbeat timeout − safety margin\` has passed since the grant, deploys both tasks, and reports RUNNING
once both report running. The details give the time from the publication to RUNNING: tens of milliseconds, so
the failover of a job is the election plus little. Meanwhile each TaskManager stops the dead leader's tasks when
their lease passes (\`leader-lost\`, "task lease passed": 2 s after its last answered heartbeat) or when it sees
the new leader, whichever comes first.

Rounds:

${details}`;
}

export function scaleSection(
  table: string,
  details: string,
  stamp: string,
  windowMs: number,
  connections: "own" | "shared",
): string {
  const h = SCALE_HEARTBEAT;
  const clients =
    connections === "own"
      ? `one gRPC client each with its own TCP connection, as separate TaskManager processes have
(\`createClient(…, { privateConnection: true })\`: a private grpc-js subchannel pool; by default \`createClient\`
channels to one address share one HTTP/2 connection within a process)`
      : `one plain \`createClient(ResourceManagerMethods, …)\` each, so all of them share one HTTP/2 connection
(\`--scale-shared-connection\`)`;
  return `## TaskManager scale: simulated TaskManagers heartbeating one leader

${stamp}

One \`vigil jobmanager\` (TTL ${TTL_SECONDS} s, \`--heartbeat-interval ${h.intervalSeconds} --heartbeat-timeout ${h.timeoutSeconds}\`) on its own etcd, alone in its
election, no jobs. The TaskManagers are simulated in the benchmark process, ${clients}:
\`registerTaskManager\` (4 slots, an address that is never dialled), then \`heartbeat\` with no tasks every
\`heartbeatIntervalMs\` from the answer; registrations (and so heartbeats) are spread evenly over one interval.
Each step adds TaskManagers to those already heartbeating, waits 3 s, then measures over ${windowMs / 1000} s: the
leader's CPU (utime + stime from /proc/<pid>/stat over wall time, % of one core), its VmRSS at the end of the
window (peak of 1 s samples in parentheses), the TCP connections established to its RPC port (/proc/net/tcp),
the heartbeat round trips the simulated TaskManagers saw (nearest-rank), every heartbeat answered
\`registered: false\` or failed (a TaskManager the leader forgot or did not answer: should be 0), and the
benchmark process's own CPU (the load generator shares the machine with the leader and etcd). Row 0 is the idle
leader (lease keepalives, the heartbeat-timeout check) over the same window. No target in DESIGN.md; this is
the cost reference.

${table}

Reading it: the idle leader costs about 1 % of a core (lease keepalives, the heartbeat-timeout check). In our
runs the leader used about 5–7 % of a core with 50 TaskManagers and with 200 alike (about 9 % with 400 in a
separate run; 1, 5 and 20 TaskManagers cost about 1, 1 and 3 %): the CPU per heartbeat falls as the rate rises,
from about 1 ms to about 0.2 ms, and the heartbeat round trips and the load generator's CPU per heartbeat (the
client half of the same calls) fall the same way. That points at the cost of waking an otherwise idle process
on this 2-vCPU VM rather than at work per TaskManager in the leader (not profiled). Memory grows by about
0.15–0.2 MiB per registered TaskManager (a registration, a TaskExecutor client that is never dialled, a
server-side HTTP/2 session). With one shared connection (\`--scale-shared-connection\`) the numbers were the
same within noise.

${details}`;
}
