import { describe, expect, it } from "vitest";
import {
  cycle,
  deadline,
  delay,
  done,
  type Generator,
  healAll,
  limit,
  map,
  mix,
  nemesisCycle,
  once,
  openFaults,
  phases,
  repeat,
  seq,
  simulate,
  sleep,
  stagger,
  timeLimit,
} from "./generator.ts";
import { History } from "./history.ts";
import { Random } from "./random.ts";

/** The ops' names and times of a simulated run. */
function run(g: Generator, seed = "t", options: Parameters<typeof simulate>[2] = {}) {
  return simulate(g, new Random(seed), options);
}

function names(g: Generator, seed = "t", options: Parameters<typeof simulate>[2] = {}): string[] {
  return run(g, seed, options).ops.map((o) => o.op.f);
}

describe("basic generators", () => {
  it("once, repeat, limit, seq", () => {
    expect(names(once({ f: "a" }))).toEqual(["a"]);
    expect(names(limit(3, repeat({ f: "r" })))).toEqual(["r", "r", "r"]);
    expect(names(limit(0, repeat({ f: "r" })))).toEqual([]);
    expect(names(seq(once({ f: "a" }), done, limit(2, repeat({ f: "b" })), once({ f: "c" })))).toEqual([
      "a",
      "b",
      "b",
      "c",
    ]);
    expect(phases).toBe(seq);
    expect(run(done)).toEqual({ ops: [], endMs: 0, done: true });
  });

  it("repeat calls its function with the context", () => {
    const result = run(
      seq(
        limit(
          2,
          repeat((ctx) => ({ f: "at", value: ctx.nowMs })),
        ),
      ),
      "t",
      { startMs: 100, opMs: 7 },
    );
    expect(result.ops.map((o) => o.op.value)).toEqual([100, 107]);
  });

  it("cycle restarts from the beginning, and ends when a pass yields nothing", () => {
    expect(names(limit(7, cycle(once({ f: "a" }), limit(2, repeat({ f: "b" })))))).toEqual([
      "a",
      "b",
      "b",
      "a",
      "b",
      "b",
      "a",
    ]);
    expect(run(cycle(done, limit(0, repeat({ f: "x" }))))).toMatchObject({ ops: [], done: true });
  });

  it("cycle does not grow with each pass", () => {
    // A deep chain of wrappers would overflow the stack long before 100 000 passes.
    expect(run(cycle(once({ f: "a" })), "t", { maxOps: 100_000 }).ops).toHaveLength(100_000);
  });

  it("map transforms ops", () => {
    expect(names(map((op) => ({ f: op.f.toUpperCase() }), limit(2, repeat({ f: "x" }))))).toEqual(["X", "X"]);
  });
});

describe("time", () => {
  it("sleep waits from its first step, then is done", () => {
    const result = run(seq(once({ f: "a" }), sleep(50), once({ f: "b" })), "t", { startMs: 10, opMs: 1 });
    expect(result.ops.map((o) => [o.op.f, o.atMs])).toEqual([
      ["a", 10],
      ["b", 61],
    ]);
    expect(sleep(0).step({ nowMs: 0, random: new Random(1) })).toEqual({ kind: "done" });
  });

  it("delay spaces ops by a fixed gap, the first at once", () => {
    const result = run(limit(4, delay(100, repeat({ f: "x" }))), "t", { startMs: 5, opMs: 30 });
    expect(result.ops.map((o) => o.atMs)).toEqual([5, 105, 205, 305]);
    // An op slower than the gap is followed at once.
    const slow = run(limit(3, delay(10, repeat({ f: "x" }))), "t", { opMs: 30 });
    expect(slow.ops.map((o) => o.atMs)).toEqual([0, 30, 60]);
  });

  it("stagger gives random gaps in [0, 2·ms) with the right mean", () => {
    const result = run(limit(2000, stagger(50, repeat({ f: "x" }))), "stagger");
    const times = result.ops.map((o) => o.atMs);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...gaps)).toBeLessThan(100);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    expect(mean).toBeGreaterThan(45);
    expect(mean).toBeLessThan(55);
  });

  it("timeLimit counts from its first step and cuts a sleep short", () => {
    const limited = seq(sleep(1000), timeLimit(250, delay(100, repeat({ f: "x" }))), once({ f: "after" }));
    const result = run(limited, "t", { opMs: 1 });
    expect(result.ops.map((o) => [o.op.f, o.atMs])).toEqual([
      ["x", 1000],
      ["x", 1100],
      ["x", 1200],
      ["after", 1250],
    ]);
    expect(run(deadline(0, repeat({ f: "x" })))).toMatchObject({ ops: [], done: true });
  });

  it("a sleep's next, stepped early, sleeps again until the same time without drawing", () => {
    const random = new Random("early");
    const generators: Generator[] = [
      sleep(100),
      stagger(100, repeat({ f: "x" })),
      limit(5, delay(100, seq(once({ f: "a" }), once({ f: "b" })))),
      timeLimit(1000, sleep(100)),
      mix(sleep(100), stagger(300, repeat({ f: "y" }))),
      nemesisCycle([{ name: "kill-leader" }], { intervalMs: 100 }),
    ];
    for (const [index, g] of generators.entries()) {
      let current = g;
      let nowMs = 0;
      for (let i = 0; i < 20; i++) {
        const s = current.step({ nowMs, random });
        if (s.kind === "done") break;
        if (s.kind === "sleep") {
          const probe = random.clone();
          const early = s.next.step({ nowMs: (nowMs + s.untilMs) / 2, random: probe });
          expect(early, `generator ${index}`).toMatchObject({ kind: "sleep", untilMs: s.untilMs });
          expect(probe.uint32(), `generator ${index}`).toBe(random.clone().uint32());
          nowMs = s.untilMs;
        }
        current = s.next;
      }
    }
  });
});

describe("mix", () => {
  it("draws from each generator about equally, and ends when all are done", () => {
    const result = names(mix(limit(300, repeat({ f: "a" })), limit(300, repeat({ f: "b" }))), "mix");
    expect(result).toHaveLength(600);
    const firstHalf = result.slice(0, 300);
    const as = firstHalf.filter((f) => f === "a").length;
    expect(as).toBeGreaterThan(120);
    expect(as).toBeLessThan(180);
  });

  it("takes ops from the others while one sleeps, and sleeps until the earliest when all do", () => {
    const g = mix(seq(sleep(100), once({ f: "late" })), limit(3, repeat({ f: "now" })));
    const result = run(g, "m");
    expect(result.ops.map((o) => [o.op.f, o.atMs])).toEqual([
      ["now", 0],
      ["now", 0],
      ["now", 0],
      ["late", 100],
    ]);
    expect(result.done).toBe(true);
  });
});

describe("determinism", () => {
  const workload = () =>
    timeLimit(
      5000,
      stagger(
        40,
        mix(
          repeat((ctx) => ({ f: "submit", value: ctx.random.int(1000) })),
          repeat({ f: "list" }),
          repeat((ctx) => ({ f: "cancel", value: ctx.random.float() })),
        ),
      ),
    );

  it("the same seed gives the same schedule; another seed another", () => {
    const a = run(workload(), "seed-1", { opMs: 3 });
    const b = run(workload(), "seed-1", { opMs: 3 });
    const c = run(workload(), "seed-2", { opMs: 3 });
    expect(a.ops.length).toBeGreaterThan(50);
    expect(b).toEqual(a);
    expect(c.ops).not.toEqual(a.ops);
  });

  it("stepping the same generator twice with the same context gives the same step", () => {
    const g = workload();
    const random = new Random("pure");
    let current = g;
    let nowMs = 0;
    for (let i = 0; i < 200; i++) {
      // Steps hold closures; compare what they say and what their continuations do.
      const [r1, r2] = [random.clone(), random.clone()];
      const s1 = current.step({ nowMs, random: r1 });
      const s2 = current.step({ nowMs, random: r2 });
      expect(s2.kind === "done" ? s2 : { ...s2, next: "-" }).toEqual(
        s1.kind === "done" ? s1 : { ...s1, next: "-" },
      );
      if (s1.kind !== "done" && s2.kind !== "done") {
        expect(simulate(s2.next, r2, { startMs: nowMs, maxOps: 20 })).toEqual(
          simulate(s1.next, r1, { startMs: nowMs, maxOps: 20 }),
        );
      }
      const s = current.step({ nowMs, random });
      if (s.kind === "done") break;
      nowMs = s.kind === "sleep" ? s.untilMs : nowMs + 1;
      current = s.next;
    }
  });
});

describe("nemesis", () => {
  const faults = [
    { name: "kill-leader" },
    { name: "pause-leader", minDurationMs: 3000 },
    { name: "partition-leader" },
  ] as const;

  it("injects and heals every fault once per round, one at a time, holding each long enough", () => {
    const result = run(nemesisCycle(faults, { intervalMs: 1000, minDurationMs: 500 }), "nemesis", {
      maxOps: 60,
      opMs: 20,
    });
    const ops = result.ops;
    expect(ops).toHaveLength(60);
    for (let i = 0; i < ops.length; i += 2) {
      const inject = ops[i]!;
      const heal = ops[i + 1]!;
      expect(inject.op).toEqual({ f: inject.op.f, value: { phase: "inject" } });
      expect(heal.op).toEqual({ f: inject.op.f, value: { phase: "heal" } });
      const hold = heal.atMs - (inject.atMs + 20);
      expect(hold).toBeCloseTo(inject.op.f === "pause-leader" ? 3000 : 500, 6);
      if (i >= 2) {
        const quiet = inject.atMs - (ops[i - 1]!.atMs + 20);
        expect(quiet).toBeGreaterThanOrEqual(500);
        expect(quiet).toBeLessThan(1500);
      }
    }
    for (let round = 0; round < 10; round++) {
      const injected = ops.slice(round * 6, round * 6 + 6).filter((_, i) => i % 2 === 0);
      expect(injected.map((o) => o.op.f).sort()).toEqual(["kill-leader", "partition-leader", "pause-leader"]);
    }
    const orders = new Set(
      Array.from({ length: 10 }, (_, r) =>
        ops
          .slice(r * 6, r * 6 + 6)
          .map((o) => o.op.f)
          .join(),
      ),
    );
    expect(orders.size).toBeGreaterThan(1);
  });

  it("holds for intervalMs by default and is done with no faults", () => {
    const result = run(nemesisCycle([{ name: "kill-leader" }], { intervalMs: 200 }), "n", { maxOps: 2 });
    expect(result.ops[1]!.atMs - result.ops[0]!.atMs).toBe(200);
    expect(run(nemesisCycle([], { intervalMs: 200 }))).toMatchObject({ ops: [], done: true });
  });

  it("healAll heals each fault in order", () => {
    expect(run(healAll(["kill-leader", "drop-replies"])).ops.map((o) => o.op)).toEqual([
      { f: "kill-leader", value: { phase: "heal" } },
      { f: "drop-replies", value: { phase: "heal" } },
    ]);
  });

  it("openFaults lists what a history may leave in effect", () => {
    const history = new History();
    const nemesis = (f: string, phase: string) => history.invoke("nemesis", f, { phase });
    nemesis("kill-leader", "inject").ok();
    nemesis("kill-leader", "heal").ok();
    nemesis("pause-leader", "inject").ok();
    nemesis("partition-leader", "inject").fail("no leader to partition");
    nemesis("drop-replies", "inject").info("timed out");
    nemesis("pause-leader", "heal").fail("SIGCONT failed");
    history.invoke(0, "submit").ok();
    nemesis("kill-taskmanager", "inject");
    expect(openFaults(history.ops())).toEqual(["pause-leader", "drop-replies", "kill-taskmanager"]);
  });

  it("a time-limited nemesis plus healAll(openFaults) leaves nothing open", () => {
    const random = new Random("heal");
    const history = new History();
    let nowMs = 0;
    const drive = (g: Generator) => {
      let current = g;
      for (;;) {
        const s = current.step({ nowMs, random });
        if (s.kind === "done") return;
        if (s.kind === "sleep") nowMs = s.untilMs;
        else history.invoke("nemesis", s.op.f, s.op.value).ok();
        current = s.next;
      }
    };
    drive(timeLimit(4200, nemesisCycle(faults, { intervalMs: 1000 })));
    const open = openFaults(history.ops());
    expect(open).toHaveLength(1);
    drive(healAll(open));
    expect(openFaults(history.ops())).toEqual([]);
  });
});
