// A strict JSON parser for user-written files (job graphs, operator and job configs). JSON.parse is not enough
// for them: V8 often reports no position ("Unexpected token 'x', … is not valid JSON"), and it keeps the last
// of two duplicate keys silently, which hides a typo'd config. This one reports line and column and refuses
// duplicate keys. Tokens are decoded by JSON.parse itself, so escapes and numbers mean exactly what they mean
// in JSON. Objects are built without a prototype: a "__proto__" key is plain data, never a prototype change.
import { InvalidArgumentError } from "../common/errors.ts";
import { childPath } from "./config-reader.ts";

/** Deeper nesting is refused instead of risking the stack; no config comes near it. */
const MAX_DEPTH = 256;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/** Parses `text`; errors read "<where>: malformed JSON at line L, column C: <problem>". */
export function parseJsonText(text: string, where: string): unknown {
  const parser = new Parser(text, where);
  parser.skipSpace();
  const value = parser.value("", 0);
  parser.skipSpace();
  if (parser.pos < text.length) parser.fail("unexpected text after the JSON value");
  return value;
}

class Parser {
  pos = 0;

  constructor(
    private readonly text: string,
    private readonly where: string,
  ) {}

  fail(problem: string, at = this.pos): never {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < at && i < this.text.length; i++) {
      if (this.text.charCodeAt(i) === 10) {
        line++;
        lineStart = i + 1;
      }
    }
    const prefix = this.where ? `${this.where}: ` : "";
    throw new InvalidArgumentError(
      `${prefix}malformed JSON at line ${line}, column ${at - lineStart + 1}: ${problem}`,
    );
  }

  skipSpace(): void {
    for (;;) {
      const c = this.text.charCodeAt(this.pos);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.pos++;
      else return;
    }
  }

  value(path: string, depth: number): unknown {
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`);
    const c = this.text[this.pos];
    switch (c) {
      case "{":
        return this.object(path, depth);
      case "[":
        return this.array(path, depth);
      case '"':
        return this.string();
      case "t":
        return this.literal("true", true);
      case "f":
        return this.literal("false", false);
      case "n":
        return this.literal("null", null);
      case undefined:
        return this.fail("unexpected end of input; expected a value");
      default:
        if (c === "-" || (c >= "0" && c <= "9")) return this.number();
        return this.fail(`unexpected ${describe(c)}; expected a value`);
    }
  }

  private object(path: string, depth: number): Record<string, unknown> {
    const out = Object.create(null) as Record<string, unknown>;
    const seen = new Set<string>();
    this.pos++;
    this.skipSpace();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return out;
    }
    for (;;) {
      if (this.text[this.pos] !== '"')
        this.fail(`expected a double-quoted property name, found ${this.found()}`);
      const keyAt = this.pos;
      const key = this.string();
      const at = childPath(path, key);
      if (seen.has(key)) this.fail(`duplicate key ${at}`, keyAt);
      seen.add(key);
      this.skipSpace();
      if (this.text[this.pos] !== ":") this.fail(`expected ':' after property name, found ${this.found()}`);
      this.pos++;
      this.skipSpace();
      out[key] = this.value(at, depth + 1);
      this.skipSpace();
      const next = this.text[this.pos];
      if (next !== "," && next !== "}")
        this.fail(`expected ',' or '}' after a property value, found ${this.found()}`);
      this.pos++;
      if (next === "}") return out;
      this.skipSpace();
    }
  }

  private array(path: string, depth: number): unknown[] {
    const out: unknown[] = [];
    this.pos++;
    this.skipSpace();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(`${path}[${out.length}]`, depth + 1));
      this.skipSpace();
      const next = this.text[this.pos];
      if (next !== "," && next !== "]")
        this.fail(`expected ',' or ']' after an array element, found ${this.found()}`);
      this.pos++;
      if (next === "]") return out;
      this.skipSpace();
    }
  }

  private string(): string {
    const start = this.pos;
    let i = start + 1;
    for (;;) {
      const c = this.text.charCodeAt(i);
      if (Number.isNaN(c)) this.fail("unterminated string", start);
      if (c === 34) break;
      if (c < 0x20) this.fail("control character in a string; escape it (e.g. \\n)", i);
      if (c === 92) {
        const e = this.text[i + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(i + 2, i + 6))) this.fail("bad \\u escape", i);
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) this.fail("bad escape in a string", i);
        i += 2;
        continue;
      }
      i++;
    }
    this.pos = i + 1;
    return JSON.parse(this.text.slice(start, this.pos)) as string;
  }

  private number(): number {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (!m) return this.fail("malformed number");
    this.pos += m[0].length;
    return Number(m[0]);
  }

  private literal<T>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail(`unexpected ${this.found()}; expected a value`);
    this.pos += word.length;
    return value;
  }

  private found(): string {
    return describe(this.text[this.pos]);
  }
}

function describe(c: string | undefined): string {
  return c === undefined ? "the end of input" : JSON.stringify(c);
}
