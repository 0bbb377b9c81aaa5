// Typed protobuf codecs over protobufjs reflection. 64-bit integers are bigint in TypeScript (epochs and
// revisions exceed 2^53 in principle), enums are their names, bytes are Uint8Array.
import protobuf from "protobufjs";

export interface MessageCodec<T> {
  /** Fully qualified message name, e.g. "vigil.ha.v1.LeaderInformation". */
  readonly name: string;
  /** Encodes a message; throws an Error naming the field when a value does not fit its type. */
  encode(message: T): Uint8Array;
  /** Decodes bytes; throws when they are not a valid encoding of this message. */
  decode(bytes: Uint8Array): T;
}

const LONGS = new Set(["int64", "uint64", "sint64", "fixed64", "sfixed64"]);
const roots = new WeakMap<object, protobuf.Root>();

function rootOf(descriptor: object): protobuf.Root {
  let root = roots.get(descriptor);
  if (!root) {
    root = protobuf.Root.fromJSON(descriptor as protobuf.INamespace);
    roots.set(descriptor, root);
  }
  return root;
}

type Plain = Record<string, unknown>;

// Walks a plain object along the message type and maps every 64-bit field with `convert`.
function mapLongs(
  type: protobuf.Type,
  value: Plain,
  convert: (v: unknown, path: string) => unknown,
  path: string,
): Plain {
  const out: Plain = { ...value };
  for (const field of type.fieldsArray) {
    const v = value[field.name];
    if (v === undefined || v === null) continue;
    const at = path ? `${path}.${field.name}` : field.name;
    const one = (x: unknown, i?: number): unknown => {
      const p = i === undefined ? at : `${at}[${i}]`;
      if (LONGS.has(field.type)) return convert(x, p);
      if (field.resolvedType instanceof protobuf.Type)
        return mapLongs(field.resolvedType, x as Plain, convert, p);
      return x;
    };
    out[field.name] = field.repeated && Array.isArray(v) ? v.map((x, i) => one(x, i)) : one(v);
  }
  return out;
}

export function messageCodec<T>(descriptor: object, name: string): MessageCodec<T> {
  let type: protobuf.Type | undefined;
  const resolve = (): protobuf.Type => {
    type ??= rootOf(descriptor).lookupType(name);
    return type;
  };
  return {
    name,
    encode(message: T): Uint8Array {
      const t = resolve();
      const plain = mapLongs(
        t,
        message as Plain,
        (v, path) => {
          if (typeof v !== "bigint")
            throw new TypeError(`${name}.${path}: expected a bigint, got ${typeof v}`);
          return v.toString();
        },
        "",
      );
      return t.encode(t.fromObject(plain)).finish();
    },
    decode(bytes: Uint8Array): T {
      const t = resolve();
      const plain = t.toObject(t.decode(bytes), {
        longs: String,
        enums: String,
        bytes: Array,
        defaults: true,
      });
      const withBigints = mapLongs(t, plain, (v) => BigInt(v as string), "");
      return normalize(t, withBigints) as T;
    },
  };
}

// protobufjs gives bytes as number[] with `bytes: Array` and absent messages as null; hand out Uint8Array
// and leave absent fields out, as the generated types say.
function normalize(type: protobuf.Type, value: Plain): Plain {
  for (const field of type.fieldsArray) {
    const v = value[field.name];
    if (v === null) delete value[field.name];
    if (v === undefined || v === null) continue;
    if (field.type === "bytes") {
      value[field.name] = field.repeated
        ? (v as number[][]).map((b) => Uint8Array.from(b))
        : Uint8Array.from(v as number[]);
    } else if (field.resolvedType instanceof protobuf.Type) {
      const sub = field.resolvedType;
      value[field.name] = field.repeated
        ? (v as Plain[]).map((x) => normalize(sub, x))
        : normalize(sub, v as Plain);
    }
  }
  return value;
}
