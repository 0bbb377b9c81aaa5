import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../common/errors.ts";
import { parseJsonText } from "./json-text.ts";

describe("parseJsonText", () => {
  it("reads what JSON.parse reads", () => {
    const text = '{"a": [1, -2.5e3, true, false, null], "b": {"c": "x\\n\\u00e9\\"y"}, "d": []}';
    expect(JSON.parse(JSON.stringify(parseJsonText(text, "t")))).toEqual(JSON.parse(text));
    expect(parseJsonText(" 42 ", "t")).toBe(42);
  });

  it.each([
    ['{"a": 1,}', "line 1, column 9: expected a double-quoted property name"],
    ['{\n  "a": x\n}', 'line 2, column 8: unexpected "x"; expected a value'],
    ["[1,2,,3]", 'line 1, column 6: unexpected ","; expected a value'],
    ['{"a": 1', "line 1, column 8: expected ',' or '}' after a property value, found the end of input"],
    ['{"a": 1}\n\n  }', "line 3, column 3: unexpected text after the JSON value"],
    ["", "line 1, column 1: unexpected end of input"],
    ['"abc', "line 1, column 1: unterminated string"],
    ['{"a": 01}', "line 1, column 8: expected ',' or '}'"],
  ])("reports %j with its position", (text, message) => {
    expect(() => parseJsonText(text, "job.json")).toThrow(`job.json: malformed JSON at ${message}`);
  });

  it("refuses duplicate keys, naming the path", () => {
    const text = '{"vertices": [{"id": "a", "id": "b"}]}';
    expect(() => parseJsonText(text, "job.json")).toThrow(InvalidArgumentError);
    expect(() => parseJsonText(text, "job.json")).toThrow(
      "job.json: malformed JSON at line 1, column 27: duplicate key vertices[0].id",
    );
  });

  it("treats __proto__ as plain data", () => {
    const value = parseJsonText('{"__proto__": {"polluted": 1}}', "t") as Record<string, unknown>;
    expect(Object.keys(value)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
  });

  it("refuses absurd nesting instead of overflowing the stack", () => {
    expect(() => parseJsonText("[".repeat(10_000), "t")).toThrow(/nested deeper than 256 levels/);
  });
});
