import v8 from "node:v8";
import { afterEach, describe, expect, it, vi } from "vitest";
import { InvalidArgumentError } from "../common/errors.ts";
import { copyRecords } from "./record-copy.ts";

/** Every object reachable from `value`. */
function objectsOf(value: unknown, into = new Set<object>()): Set<object> {
  if (typeof value !== "object" || value === null || into.has(value)) return into;
  into.add(value);
  const entries =
    value instanceof Map ? [...value.keys(), ...value.values()] : value instanceof Set ? [...value] : [];
  for (const v of [...Object.values(value), ...entries]) objectsOf(v, into);
  return into;
}

/** The copy is structuredClone's (byte for byte in v8's format, so sharing too) and shares nothing. */
function expectFaithfulCopy(records: unknown[]): unknown[] {
  const copy = copyRecords(records);
  expect(v8.serialize(copy)).toEqual(v8.serialize(structuredClone(records)));
  const original = objectsOf(records);
  for (const o of objectsOf(copy)) expect(original.has(o)).toBe(false);
  return copy;
}

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("copyRecords", () => {
  it("copies plain data deeply by hand: primitives, objects, arrays, bigint, undefined, -0, NaN, null prototypes, getters", () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    const withAccessor = {
      get computed() {
        return 42;
      },
    };
    const hidden = Object.defineProperty({ shown: 1 }, "hidden", { value: 2, enumerable: false });
    const records = [
      1,
      "s",
      true,
      null,
      undefined,
      -0,
      Number.NaN,
      1n << 70n,
      { key: "k", value: 3, nested: { list: [1, [2, { deep: "x" }]], nothing: undefined } },
      [],
      {},
      bare,
      { 2: "b", 1: "a", z: 0 },
      withAccessor, // its value, as structuredClone reads it
      hidden, // only enumerable properties, as structuredClone
      Object.assign(new (class Tagged extends Array {})(), [1, 2]), // a plain array, as structuredClone
    ];
    const clone = vi.spyOn(globalThis, "structuredClone");
    const copy = copyRecords(records);
    expect(clone).not.toHaveBeenCalled(); // the fast path copied it all
    clone.mockRestore();
    expect(expectFaithfulCopy(records)).toEqual(copy);
    expect(Object.is(copy[5], -0)).toBe(true);
    expect(Object.getPrototypeOf(copy[11])).toBe(Object.prototype);
  });

  it("gives structuredClone's result for everything else: Map, Set, Date, classes, typed arrays, odd arrays", () => {
    const match = /b(c)/.exec("abc");
    const holes: unknown[] = [1];
    holes[2] = 3; // [1, <hole>, 3]
    const named = Object.assign([1, 2], { extra: "kept" });
    // As many keys as its length, but not its indices: [<hole>, 2] with a property x.
    const balanced: unknown[] = [];
    balanced[1] = 2;
    Object.assign(balanced, { x: 1 });
    const proto = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as unknown;
    const odd: unknown[] = [
      new Map<unknown, unknown>([["k", { v: 1 }]]),
      new Set([1, "two"]),
      new Date(5),
      new Point(1, 2),
      new Uint8Array([1, 2, 3]),
      match,
      holes,
      named,
      balanced,
      proto,
    ];
    const clone = vi.spyOn(globalThis, "structuredClone");
    for (const record of odd) {
      clone.mockClear();
      copyRecords([{ plain: 1 }, record]);
      expect(clone).toHaveBeenCalledTimes(1);
    }
    clone.mockRestore();
    expectFaithfulCopy(odd);
    const copied = copyRecords([proto])[0] as Record<string, unknown>;
    expect(Object.getPrototypeOf(copied)).toBe(Object.prototype);
    expect(Object.keys(copied)).toEqual(["__proto__", "a"]);
  });

  it("keeps shared and cyclic references shared, as the remote path does", () => {
    const shared = { n: 1 };
    const cyclic: Record<string, unknown> = { name: "self" };
    cyclic["me"] = cyclic;
    const copy = expectFaithfulCopy([shared, { inner: shared }, cyclic]) as [
      object,
      { inner: object },
      Record<string, unknown>,
    ];
    expect(copy[1].inner).toBe(copy[0]);
    expect(copy[2]["me"]).toBe(copy[2]);
  });

  it("copies a proxy the way structuredClone does: refuses it", () => {
    const proxy = new Proxy({ a: 1 }, {});
    expect(() => structuredClone(proxy)).toThrow();
    expect(() => copyRecords([proxy])).toThrow(InvalidArgumentError);
  });

  it("refuses records that are not structured-clone values with the codec's InvalidArgumentError", () => {
    for (const bad of [() => 1, Symbol("s"), { f: () => 1 }, [1, Symbol("t")]]) {
      const error = (() => {
        try {
          copyRecords([1, bad]);
        } catch (e: unknown) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toContain("a record cannot be sent to another subtask");
      expect((error as Error).message).toContain("structured-clone values");
    }
    const throwing = {
      get boom(): never {
        throw new Error("getter failed");
      },
    };
    expect(() => copyRecords([throwing])).toThrow(/getter failed/);
  });
});
