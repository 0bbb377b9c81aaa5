import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../common/errors.ts";
import { ParameterTool } from "./parameters.ts";

describe("ParameterTool", () => {
  it("reads --name value, --name=value and switches", () => {
    const p = ParameterTool.fromArgs(["--count", "10", "--rate=2.5", "--verbose", "--offset", "-3"]);
    expect(p.integer("count", { min: 1 })).toBe(10);
    expect(p.optionalNumber("rate", { above: 0 })).toBe(2.5);
    expect(p.flag("verbose")).toBe(true);
    expect(p.optionalInteger("offset", { min: -10 })).toBe(-3);
    expect(p.optionalString("missing")).toBeUndefined();
    expect(p.has("count")).toBe(true);
    p.finish();
  });

  it("names the flag and says what to pass", () => {
    const p = ParameterTool.fromArgs(["--count", "1e3", "--rate", "0", "--name", "--out", "x"]);
    expect(() => p.integer("count", { min: 1 })).toThrow('--count: "1e3" is not an integer ≥ 1');
    expect(() => p.optionalNumber("rate", { above: 0 })).toThrow('--rate: "0" is not a number > 0');
    expect(() => p.string("name")).toThrow("--name: needs a value");
    expect(() => p.string("output", "DIR")).toThrow("--output: is required; pass --output DIR");
    expect(() => p.integer("keys", { min: 1, max: 5 })).toThrow(
      "--keys: is required; pass --keys N (an integer from 1 to 5)",
    );
    expect(() => p.finish()).toThrow(InvalidArgumentError);
    expect(() => p.finish()).toThrow("--out: unknown flag; use --count, --rate, --name, --output, --keys");
  });

  it("refuses positional arguments and repeated flags", () => {
    expect(() => ParameterTool.fromArgs(["input.txt"])).toThrow(
      'argument "input.txt" is not a flag; pass arguments as --name value',
    );
    expect(() => ParameterTool.fromArgs(["--a", "1", "--a", "2"])).toThrow("--a is given more than once");
    expect(() => ParameterTool.fromArgs(["--=x"])).toThrow('argument "--=x" has no flag name');
  });
});
