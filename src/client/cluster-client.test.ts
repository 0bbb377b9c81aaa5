import { afterEach, describe, expect, it } from "vitest";
import {
  AlreadyExistsError,
  CancelledError,
  DeadlineExceededError,
  LifecycleError,
  NotLeaderError,
  UnavailableError,
  type VigilError,
} from "../common/errors.ts";
import { silentLogger } from "../common/logger.ts";
import type { HaConfig } from "../config/ha-config.ts";
import type { JobGraph } from "../generated/records.ts";
import { DispatcherMethods, type DispatcherService } from "../generated/services.ts";
import { JOBMANAGER_ELECTION } from "../ha/keys.ts";
import { LeaderElectionService } from "../ha/leader-election-service.ts";
import { MemoryCoordinator, MemoryHaBackend } from "../ha/memory/index.ts";
import { RecordingContender, waitUntil } from "../ha/testing.ts";
import { RpcServer } from "../rpc/server.ts";
import { ClusterClient } from "./cluster-client.ts";

/**
 * How a fake JobManager answers: as leader, as a standby (redirect), hanging, with a fixed error, or by
 * dying mid-call (it received the request, then its server is forced down: the caller cannot know more).
 */
type Role =
  | { readonly kind: "leader" }
  | { readonly kind: "drop" }
  | { readonly kind: "standby"; readonly leader: string | undefined }
  | { readonly kind: "hang" }
  | { readonly kind: "fail"; readonly error: Error };

interface FakeJobManager {
  readonly address: string;
  readonly epoch: bigint;
  role: Role;
  calls: number;
  readonly server: RpcServer;
}

const open: Array<{ close(): Promise<void> }> = [];
let coordinator: MemoryCoordinator | undefined;

afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  coordinator?.close();
  coordinator = undefined;
});

async function jobManager(epoch: bigint, role: Role): Promise<FakeJobManager> {
  const server = new RpcServer({ host: "127.0.0.1", port: 0, logger: silentLogger });
  const jm = { epoch, role, calls: 0, server, address: "" };
  const act = async <T>(answer: () => T, signal?: AbortSignal): Promise<T> => {
    jm.calls++;
    const r = jm.role;
    if (r.kind === "standby") throw new NotLeaderError(r.leader);
    if (r.kind === "fail") throw r.error;
    if (r.kind === "drop") void jm.server.shutdown(0);
    if (r.kind === "hang" || r.kind === "drop")
      return new Promise((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason)));
    return answer();
  };
  const savepointAnswer = { path: "/sp", checkpointId: 1n, state: "JOB_STATE_RUNNING" as const };
  const handler: DispatcherService = {
    submitJob: (req, o) =>
      act(() => ({ jobId: req.graph?.jobId ?? "", alreadySubmitted: false, epoch }), o?.signal),
    listJobs: (_req, o) => act(() => ({ jobs: [], epoch }), o?.signal),
    getJob: (_req, o) => act(() => ({ tasks: [] }), o?.signal),
    cancelJob: (_req, o) => act(() => ({ state: "JOB_STATE_CANCELED" as const }), o?.signal),
    clusterOverview: (_req, o) => act(() => ({ taskmanagers: [], jobs: [] }), o?.signal),
    triggerSavepoint: (_req, o) => act(() => savepointAnswer, o?.signal),
    stopJob: (_req, o) => act(() => savepointAnswer, o?.signal),
    getLeader: async () => ({ name: "fake", address: jm.address, epoch }),
  };
  server.addService(DispatcherMethods, handler);
  jm.address = await server.start();
  open.push({ close: () => server.shutdown(0) });
  return jm;
}

/** An address where nothing listens: a server that was started and stopped. */
async function downAddress(): Promise<string> {
  const jm = await jobManager(0n, { kind: "leader" });
  await jm.server.shutdown(0);
  return jm.address;
}

function viaAddresses(addresses: string[]): ClusterClient {
  const client = ClusterClient.viaAddresses(addresses, silentLogger);
  open.push(client);
  return client;
}

const graph = (jobId: string): JobGraph => ({
  version: 1,
  jobId,
  name: jobId,
  vertices: [],
  edges: [],
  configJson: "",
});

async function failure(p: Promise<unknown>): Promise<VigilError> {
  return p.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => e as VigilError,
  );
}

describe("ClusterClient.viaAddresses", () => {
  it("follows NOT_LEADER from a standby to the leader, then goes straight to the leader", async () => {
    const leader = await jobManager(7n, { kind: "leader" });
    const standby = await jobManager(0n, { kind: "standby", leader: leader.address });
    const client = viaAddresses([standby.address]);
    expect((await client.listJobs({})).epoch).toBe(7n);
    expect((await client.submitJob({ graph: graph("j1") })).epoch).toBe(7n);
    expect(standby.calls).toBe(1);
    expect(leader.calls).toBe(2);
  });

  it("skips an address that is down and a standby that knows no leader", async () => {
    const down = await downAddress();
    const lost = await jobManager(0n, { kind: "standby", leader: undefined });
    const leader = await jobManager(3n, { kind: "leader" });
    const client = viaAddresses([down, lost.address, leader.address]);
    expect((await client.cancelJob({ jobId: "j1" })).state).toBe("JOB_STATE_CANCELED");
    expect(lost.calls).toBe(1);
  });

  it("keeps trying with back-off until a leader appears within the call's timeout", async () => {
    const a = await jobManager(0n, { kind: "standby", leader: undefined });
    const b = await jobManager(0n, { kind: "standby", leader: undefined });
    const client = viaAddresses([a.address, b.address]);
    const call = client.submitJob({ graph: graph("j1") }, { timeoutMs: 5_000 });
    await waitUntil(() => a.calls >= 2 && b.calls >= 2);
    b.role = { kind: "leader" };
    expect((await call).jobId).toBe("j1");
  });

  it("follows a leader change: the old leader redirects and the next call reaches the new one", async () => {
    const first = await jobManager(1n, { kind: "leader" });
    const second = await jobManager(2n, { kind: "standby", leader: first.address });
    const client = viaAddresses([first.address, second.address]);
    expect((await client.listJobs({})).epoch).toBe(1n);
    first.role = { kind: "standby", leader: second.address };
    second.role = { kind: "leader" };
    expect((await client.listJobs({})).epoch).toBe(2n);
    expect((await client.listJobs({})).epoch).toBe(2n);
    expect(first.calls).toBe(2);
  });

  it("fails after the timeout saying what it tried when no leader is reachable", async () => {
    const down = await downAddress();
    const lost = await jobManager(0n, { kind: "standby", leader: undefined });
    const client = viaAddresses([down, lost.address]);
    const error = await failure(client.listJobs({}, { timeoutMs: 400 }));
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.message).toContain(
      `no JobManager leader reachable at ${down} (unreachable), ${lost.address} (not the leader)`,
    );
    expect(error.message).toContain("within 0.4 s; is the cluster running?");
    expect(lost.calls).toBeGreaterThan(1);
  });

  it("reports a write that got no answer as outcome unknown, a read as unreachable", async () => {
    const hung = await jobManager(1n, { kind: "hang" });
    const client = viaAddresses([hung.address]);
    const submit = await failure(client.submitJob({ graph: graph("j1") }, { timeoutMs: 300 }));
    expect(submit).toBeInstanceOf(DeadlineExceededError);
    expect(submit.message).toMatch(/^submitJob: outcome unknown: no JobManager confirmed it within 0.3 s/);
    expect(submit.message).toContain("safe to retry");
    const list = await failure(client.listJobs({}, { timeoutMs: 300 }));
    expect(list).toBeInstanceOf(UnavailableError);
    expect(list.message).toContain(`${hung.address} (no answer in time)`);
  });

  it("reports a write whose connection was lost mid-call as outcome unknown, not unreachable", async () => {
    const dropsSubmit = await jobManager(1n, { kind: "drop" });
    const dropsCancel = await jobManager(1n, { kind: "drop" });
    const submit = await failure(
      viaAddresses([dropsSubmit.address]).submitJob({ graph: graph("j1") }, { timeoutMs: 400 }),
    );
    expect(dropsSubmit.calls).toBe(1);
    expect(submit).toBeInstanceOf(DeadlineExceededError);
    expect(submit.message).toBe(
      `submitJob: outcome unknown: no JobManager confirmed it within 0.4 s (tried ${dropsSubmit.address} (connection lost mid-call)); ` +
        "it is safe to retry (the call is idempotent on the job id), or check with `vigil list`",
    );
    const cancel = await failure(
      viaAddresses([dropsCancel.address]).cancelJob({ jobId: "j1" }, { timeoutMs: 400 }),
    );
    expect(cancel).toBeInstanceOf(DeadlineExceededError);
    expect(cancel.message).toMatch(/^cancelJob: outcome unknown: /);
  });

  it("a write that was lost once succeeds when a later attempt is confirmed", async () => {
    const drops = await jobManager(1n, { kind: "drop" });
    const leader = await jobManager(2n, { kind: "leader" });
    const client = viaAddresses([drops.address, leader.address]);
    expect(await client.submitJob({ graph: graph("j1") })).toEqual({
      jobId: "j1",
      alreadySubmitted: false,
      epoch: 2n,
    });
    expect(drops.calls).toBe(1);
    expect(leader.calls).toBe(1);
  });

  it("reports a write that was never delivered, and a lost read, as unreachable", async () => {
    const down = await downAddress();
    // Generous: on a loaded machine a refused connect can take longer than a tight deadline, and a deadline
    // that passes before the refusal is (rightly) an unknown outcome, not "unreachable".
    const submit = await failure(
      viaAddresses([down]).submitJob({ graph: graph("j1") }, { timeoutMs: 3_000 }),
    );
    expect(submit).toBeInstanceOf(UnavailableError);
    expect(submit.message).toBe(
      `no JobManager leader reachable at ${down} (unreachable) within 3 s; is the cluster running?`,
    );
    const drops = await jobManager(1n, { kind: "drop" });
    const list = await failure(viaAddresses([drops.address]).listJobs({}, { timeoutMs: 300 }));
    expect(list).toBeInstanceOf(UnavailableError);
    expect(list.message).toContain(`reachable at ${drops.address} (connection lost mid-call)`);
  });

  it("surfaces a definite refusal at once, without retrying", async () => {
    const leader = await jobManager(1n, { kind: "fail", error: new AlreadyExistsError("jobgraphs/j1") });
    const client = viaAddresses([leader.address]);
    const error = await failure(client.submitJob({ graph: graph("j1") }));
    expect(error.code).toBe("ALREADY_EXISTS");
    expect(error.message).toBe("jobgraphs/j1: already exists");
    expect(leader.calls).toBe(1);
  });

  it("stops on the caller's signal and on close", async () => {
    const hung = await jobManager(1n, { kind: "hang" });
    const client = viaAddresses([hung.address]);
    const controller = new AbortController();
    const cancelled = failure(client.cancelJob({ jobId: "j1" }, { signal: controller.signal }));
    await waitUntil(() => hung.calls === 1);
    controller.abort();
    const e = await cancelled;
    expect(e).toBeInstanceOf(CancelledError);
    expect(e.message).toContain("outcome unknown");
    const closing = failure(client.listJobs({}));
    await waitUntil(() => hung.calls === 2);
    await client.close();
    expect(await closing).toBeInstanceOf(LifecycleError);
    expect(await failure(client.listJobs({}))).toBeInstanceOf(LifecycleError);
    await client.close();
  });
});

describe("ClusterClient.viaHa", () => {
  const config: HaConfig = {
    backend: "memory",
    endpoints: [],
    clusterId: "c1",
    ttlMs: 1_000,
    safetyMarginMs: 100,
    connectTimeoutMs: 1_000,
    requestTimeoutMs: 1_000,
  };

  /** A contender on its own memory client that publishes `address` as the JobManager leader. */
  async function publish(address: string, name: string) {
    const backend = new MemoryHaBackend(coordinator!, config);
    const service = new LeaderElectionService(
      backend.createElectionDriver(JOBMANAGER_ELECTION),
      name,
      silentLogger,
    );
    const contender = new RecordingContender(service, name, address);
    open.push(backend, service);
    await service.start(contender);
    await waitUntil(() => contender.leading);
    return { service, contender };
  }

  function viaHa(): ClusterClient {
    const client = ClusterClient.viaHa(config, silentLogger, coordinator);
    open.push(client);
    return client;
  }

  it("calls the published leader and answers getLeader from retrieval", async () => {
    coordinator = new MemoryCoordinator();
    const jm = await jobManager(5n, { kind: "leader" });
    const { contender } = await publish(jm.address, "jm-a");
    const client = viaHa();
    expect((await client.listJobs({})).epoch).toBe(5n);
    const leader = await client.getLeader({});
    expect(leader).toEqual({ name: "jm-a", address: jm.address, epoch: contender.session!.epoch });
  });

  it("waits for a leader to be published, and follows a new one after failover", async () => {
    coordinator = new MemoryCoordinator();
    const first = await jobManager(1n, { kind: "leader" });
    const second = await jobManager(2n, { kind: "leader" });
    const client = viaHa();
    const early = client.submitJob({ graph: graph("j1") }, { timeoutMs: 5_000 });
    const a = await publish(first.address, "jm-a");
    expect((await early).epoch).toBe(1n);
    await a.service.close();
    await first.server.shutdown(0);
    await publish(second.address, "jm-b");
    expect((await client.listJobs({}, { timeoutMs: 5_000 })).epoch).toBe(2n);
  });

  it("fails after the timeout naming the retrieval when no leader is published", async () => {
    coordinator = new MemoryCoordinator();
    const client = viaHa();
    const error = await failure(client.clusterOverview({}, { timeoutMs: 300 }));
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.message).toBe(
      "no JobManager leader found through leader retrieval in memory (cluster c1) within 0.3 s; is the cluster running?",
    );
    const leader = await failure(client.getLeader({}, { timeoutMs: 200 }));
    expect(leader.message).toContain("no JobManager leader published through leader retrieval in memory");
  });
});
