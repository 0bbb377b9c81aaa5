import { describe, expect, it } from "vitest";
import { type Clocks, History, type Op, pairs, toJsonable } from "./history.ts";

/** Clocks that move only when told: monotonic starts at 1000, wall at 1_700_000_000_000. */
function manualClocks(): Clocks & { advance(ms: number): void } {
  let mono = 1000;
  return {
    monotonic: () => mono,
    wall: () => 1_700_000_000_000 + mono,
    advance(ms: number) {
      mono += ms;
    },
  };
}

describe("History", () => {
  it("records invoke and completion with times since the start and wall times", () => {
    const clocks = manualClocks();
    const history = new History(clocks);
    clocks.advance(5);
    const submit = history.invoke(0, "submit", { job: "j1" });
    clocks.advance(2.5);
    const list = history.invoke(1, "list");
    clocks.advance(10);
    submit.ok({ epoch: 3n });
    list.info(new Error("deadline exceeded"));
    expect(history.ops()).toEqual([
      {
        index: 0,
        type: "invoke",
        process: 0,
        f: "submit",
        value: { job: "j1" },
        time: 5,
        at: 1_700_000_001_005,
      },
      { index: 1, type: "invoke", process: 1, f: "list", time: 7.5, at: 1_700_000_001_007.5 },
      {
        index: 2,
        type: "ok",
        process: 0,
        f: "submit",
        value: { epoch: "3" },
        time: 17.5,
        at: 1_700_000_001_017.5,
      },
      {
        index: 3,
        type: "info",
        process: 1,
        f: "list",
        error: "Error: deadline exceeded",
        time: 17.5,
        at: 1_700_000_001_017.5,
      },
    ]);
    expect(history.startedAt).toBe(1_700_000_001_000);
    expect(submit.completed).toBe(true);
  });

  it("uses the monotonic clock by default: times never decrease and start near 0", () => {
    const history = new History();
    for (let i = 0; i < 100; i++) history.invoke(i % 3, "list").fail("no leader");
    const times = history.ops().map((op) => op.time);
    expect(times[0]).toBeGreaterThanOrEqual(0);
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1]!);
    const first = history.ops()[0]!;
    expect(first.at - first.time).toBeCloseTo(history.startedAt, 6);
  });

  it("allows one open invocation per process", () => {
    const history = new History(manualClocks());
    const a = history.invoke(0, "submit");
    expect(() => history.invoke(0, "cancel")).toThrow(
      /process 0 invoked "cancel" while its "submit" \(op 0\)/,
    );
    history.invoke("nemesis", "kill-leader", { phase: "inject" });
    expect(() => history.invoke("nemesis", "kill-leader")).toThrow(/process nemesis/);
    a.fail("refused");
    expect(() => history.invoke(0, "cancel")).not.toThrow();
    expect(history.open().map((i) => i.op.f)).toEqual(["kill-leader", "cancel"]);
  });

  it("refuses a second completion", () => {
    const history = new History(manualClocks());
    const a = history.invoke(0, "submit");
    a.ok();
    expect(() => a.info("late")).toThrow(
      /op 0 \("submit" of process 0\) is already complete; it cannot also be info/,
    );
    expect(history.ops()).toHaveLength(2);
  });

  it("streams every op to listeners until they unsubscribe", () => {
    const history = new History(manualClocks());
    const seen: Op[] = [];
    const stop = history.onOp((op) => seen.push(op));
    history.invoke(0, "list").ok([]);
    stop();
    history.invoke(0, "list").ok([]);
    expect(seen.map((op) => [op.index, op.type])).toEqual([
      [0, "invoke"],
      [1, "ok"],
    ]);
  });

  it("keeps its bookkeeping when a listener throws", () => {
    const history = new History(manualClocks());
    history.onOp(() => {
      throw new Error("disk full");
    });
    expect(() => history.invoke(0, "submit")).toThrow("disk full");
    // The invocation was recorded and is open: the process cannot invoke again, and the runner can close it.
    expect(() => history.invoke(0, "submit")).toThrow(/still open/);
    const [open] = history.open();
    expect(() => open!.info("listener failed")).toThrow("disk full");
    expect(open!.completed).toBe(true);
    expect(History.parse(history.toJsonLines())).toEqual(history.ops());
  });

  it("records a value that cannot be serialized as an error, without completing the invocation", () => {
    const history = new History(manualClocks());
    const a = history.invoke(0, "submit");
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => a.ok(cyclic)).toThrow(/circular/i);
    expect(a.completed).toBe(false);
    a.ok("fine");
    expect(history.ops()).toHaveLength(2);
  });
});

describe("JSON lines", () => {
  it("round-trips a history", () => {
    const history = new History(manualClocks());
    const a = history.invoke(0, "submit", { job: "j1", n: 12345678901234567890n, skip: undefined });
    const n = history.invoke("nemesis", "pause-leader", { phase: "inject" });
    a.fail("NotLeaderError: not the leader");
    n.ok({ victim: "jm-1", epoch: 2n });
    history.invoke(2, "read-output");
    const text = history.toJsonLines();
    expect(text.split("\n")).toHaveLength(6);
    expect(text).toContain('"n":"12345678901234567890"');
    expect(History.parse(text)).toEqual(history.ops());
  });

  it("names the line of a bad op", () => {
    const good = JSON.stringify({ index: 0, type: "invoke", process: 0, f: "list", time: 1, at: 2 });
    expect(() => History.parse(`${good}\n\n{"index":1`)).toThrow(/history line 3: not JSON/);
    expect(() => History.parse(`${good}\n${good.replace('"invoke"', '"begin"')}`)).toThrow(
      /history line 2: field "type" must be invoke, ok, fail or info, got "begin"/,
    );
    expect(() => History.parse(good.replace('"index":0', '"index":4'))).toThrow(
      /history line 1: index 4, expected 0/,
    );
    const fail = JSON.stringify({ index: 1, type: "fail", process: 0, f: "list", time: 1, at: 2 });
    expect(() => History.parse(`${good}\n${fail}`)).toThrow(
      /history line 2: field "error" must be present on fail/,
    );
  });

  it("rejects histories that break the one-open-invocation rule", () => {
    const op = (index: number, type: string, process: number, f: string) =>
      JSON.stringify({
        index,
        type,
        process,
        f,
        time: index,
        at: index,
        ...(type === "info" && { error: "?" }),
      });
    expect(() => History.parse([op(0, "invoke", 0, "list"), op(1, "invoke", 0, "list")].join("\n"))).toThrow(
      /history line 2: process 0 invokes "list" while op 0 is still open/,
    );
    expect(() => History.parse([op(0, "invoke", 0, "list"), op(1, "ok", 1, "list")].join("\n"))).toThrow(
      /history line 2: ok "list" of process 1 completes no open invocation/,
    );
    expect(() => History.parse([op(0, "invoke", 0, "list"), op(1, "info", 0, "submit")].join("\n"))).toThrow(
      /completes no open invocation \(op 0 "list" is open\)/,
    );
  });
});

describe("pairs", () => {
  it("matches completions to invocations per process, in invocation order", () => {
    const history = new History(manualClocks());
    const a = history.invoke(0, "submit");
    const b = history.invoke(1, "cancel");
    b.ok();
    a.info("timeout");
    const c = history.invoke(1, "list");
    const result = pairs(history.ops());
    expect(result.map((p) => [p.invoke.index, p.completion?.index])).toEqual([
      [0, 3],
      [1, 2],
      [4, undefined],
    ]);
    expect(c.completed).toBe(false);
  });

  it("throws on a completion without an invocation", () => {
    const orphan: Op = { index: 0, type: "ok", process: 0, f: "list", time: 0, at: 0 };
    expect(() => pairs([orphan])).toThrow(/op 0 \(ok "list" of process 0\) completes no open invocation/);
  });
});

describe("toJsonable", () => {
  it("turns bigints into decimal strings and drops undefined fields", () => {
    expect(toJsonable({ a: 1n, b: [2n, { c: -3n }], d: undefined })).toEqual({
      a: "1",
      b: ["2", { c: "-3" }],
    });
    expect(toJsonable(undefined)).toBeUndefined();
    expect(toJsonable(7n)).toBe("7");
  });
});
