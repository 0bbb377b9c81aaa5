// Leader election and retrieval, in process, the same on every backend.
import { afterEach, describe, expect, it } from "vitest";
import { sleep } from "../../src/common/clock.ts";
import type { LeaderInfo } from "../../src/ha/election-driver.ts";
import { LeaderRetrievalService } from "../../src/ha/leader-retrieval-service.ts";
import { waitUntil } from "../../src/ha/testing.ts";
import { type BackendFixture, Closer, type Contender, freshClusterId, startContender } from "./fixture.ts";

export function electionContract(fixture: () => BackendFixture): void {
  describe("leader election and retrieval", () => {
    const closer = new Closer();
    afterEach(() => closer.closeAll());

    it("elects exactly one of three contenders; a graceful close hands over in under a second with a higher epoch", async () => {
      const f = fixture();
      const cluster = freshClusterId("elect");
      const all: Contender[] = [];
      for (const n of ["a", "b", "c"]) all.push(await startContender(f, closer, cluster, n));
      await waitUntil(() => all.some((c) => c.rec.leading), 10_000, "a leader");
      // A wrongly granted second leader can only be seen over time: watch for a while before counting.
      await sleep(300);
      expect(all.filter((c) => c.rec.leading)).toHaveLength(1);
      const first = all.find((c) => c.rec.leading)!;
      const epoch1 = first.rec.session!.epoch;
      const started = performance.now();
      await first.service.close();
      await waitUntil(() => all.some((c) => c !== first && c.rec.leading), 5_000, "a second leader");
      const handover = performance.now() - started;
      expect(handover).toBeLessThan(1_000);
      const second = all.find((c) => c.rec.leading)!;
      expect(second.rec.session!.epoch).toBeGreaterThan(epoch1);
      expect(all.filter((c) => c.rec.leading)).toHaveLength(1);
      expect(first.rec.events.map((e) => e.type)).toEqual(["granted", "revoked"]);
    });

    it("retrieval follows every leader change, including no leader", async () => {
      const f = fixture();
      const cluster = freshClusterId("retr");
      const watcher = closer.add(await f.client(cluster));
      const retrieval = closer.add(new LeaderRetrievalService(watcher.createRetrievalDriver("contract")));
      const seen: Array<LeaderInfo | undefined> = [];
      await retrieval.start({ notifyLeader: (i) => seen.push(i) });
      await waitUntil(() => seen.length === 1, 5_000, "the initial report");
      expect(seen[0]).toBeUndefined();
      const a = await startContender(f, closer, cluster, "a");
      await waitUntil(() => seen.at(-1)?.name === "a", 10_000, "a published");
      const b = await startContender(f, closer, cluster, "b");
      const aEpoch = a.rec.session!.epoch;
      expect(seen.at(-1)).toEqual({
        name: "a",
        address: "a.example:7000",
        epoch: aEpoch,
        sessionId: a.rec.session!.id,
      });
      await a.service.close();
      await waitUntil(() => seen.at(-1)?.name === "b", 10_000, "b published");
      expect(seen.at(-1)!.epoch).toBeGreaterThan(aEpoch);
      await b.service.close();
      await waitUntil(() => seen.at(-1) === undefined, 10_000, "no leader");
      expect(seen.filter((s) => s !== undefined).map((s) => s.name)).toEqual(["a", "b"]);
    });

    it("a contender closed before it was ever granted never becomes leader", async () => {
      const f = fixture();
      const cluster = freshClusterId("late");
      const a = await startContender(f, closer, cluster, "a");
      await waitUntil(() => a.rec.leading, 10_000, "a to lead");
      const b = await startContender(f, closer, cluster, "b");
      await b.service.close();
      await a.service.close();
      const c = await startContender(f, closer, cluster, "c");
      await waitUntil(() => c.rec.leading, 10_000, "c to lead");
      expect(b.rec.events).toEqual([]);
    });
  });
}
