// A seeded pseudo-random generator, so that a chaos run is reproducible from its seed: sfc32 (Chris Doty-Humphrey's
// Small Fast Counting generator, 128 bits of state, passes PractRand) seeded through cyrb128, a string hash that
// spreads even similar seeds ("1", "2") over the whole state. Not for cryptography.
import { InvalidArgumentError } from "../src/common/errors.ts";

export class Random {
  /** The seed as given, as a string ("42" and 42 are the same seed). */
  readonly seed: string;
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: string | number) {
    if (typeof seed === "number" && !Number.isFinite(seed)) {
      throw new InvalidArgumentError(`random: seed must be a finite number or a string, got ${seed}`);
    }
    this.seed = String(seed);
    [this.#a, this.#b, this.#c, this.#d] = cyrb128(this.seed);
    // The first outputs of sfc32 still show the seed's structure; discard them, as its author recommends.
    for (let i = 0; i < 15; i++) this.uint32();
  }

  /** Uniform on [0, 2^32). */
  uint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform on [0, 1), with 53 random bits. */
  float(): number {
    return (this.uint32() * 2 ** 21 + (this.uint32() >>> 11)) / 2 ** 53;
  }

  /** Uniform integer on [0, n); n a positive safe integer. */
  int(n: number): number {
    if (!Number.isSafeInteger(n) || n <= 0) {
      throw new InvalidArgumentError(`random.int: n must be a positive integer, got ${n}`);
    }
    if (n > 2 ** 32) return Math.floor(this.float() * n);
    // Rejection sampling: a plain modulo would favour small values when n does not divide 2^32.
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (;;) {
      const x = this.uint32();
      if (x < limit) return x % n;
    }
  }

  /** Uniform on [min, max). */
  between(min: number, max: number): number {
    if (!(max >= min)) throw new InvalidArgumentError(`random.between: max ${max} is below min ${min}`);
    return min + this.float() * (max - min);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** A uniformly chosen element; throws on an empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new InvalidArgumentError("random.pick: cannot pick from an empty array");
    return items[this.int(items.length)]!;
  }

  /** A uniformly shuffled copy (Fisher–Yates); the input is left alone. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  /**
   * An independent stream named `label`, derived from this stream's seed only, not from how much has been
   * drawn: adding draws to one stream (a new operation kind) does not change what a fork produces.
   */
  fork(label: string): Random {
    return new Random(`${this.seed}/${label}`);
  }

  /** A copy in the same state: both produce the same sequence from here on. */
  clone(): Random {
    const copy = new Random(this.seed);
    copy.#a = this.#a;
    copy.#b = this.#b;
    copy.#c = this.#c;
    copy.#d = this.#d;
    return copy;
  }
}

/** A fresh seed for a run that was given none (printed, so that the run can be repeated). */
export function randomSeed(): string {
  return Math.floor(Math.random() * 2 ** 48).toString(36);
}

// cyrb128 (bryc, public domain): four 32-bit hashes of the string, mixed into each other.
function cyrb128(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}
