/**
 * Seeded random input for the fuzz tests: bytes, JSON values of every type, odd strings, and
 * mutations of valid documents (flipped bytes, torn and huge lines, wrong-typed fields). The
 * same seed gives the same inputs, so a failure names its seed and input number.
 *
 * @module
 */
import { mulberry32 } from "../../core/random.ts";

/** Bytes backed by an ArrayBuffer. */
export type Bytes = Uint8Array<ArrayBuffer>;

/** Strings that break naive code: paths, encodings, control characters, lone surrogates. */
export const ODD_STRINGS: readonly string[] = [
  "",
  ".",
  "..",
  "../..",
  "../../etc/passwd",
  "/etc/passwd",
  "C:\\Windows",
  "a\\..\\b",
  "%2e%2e",
  "%2f",
  "%00",
  "\0",
  "\u0000x",
  "\ud800",
  "\udfff\ud800",
  "\u202e",
  "😀",
  "\n",
  "\r\n",
  " ",
  "<script>alert(1)</script>",
  "{}",
  "[]",
  "null",
  "__proto__",
  "constructor",
  "toString",
  "2026-13-45T99:99:99Z",
  "2026-12-01T10:10:10.000Z",
  "NaN",
  "-0",
  "1e309",
];

/** A seeded generator of random input. */
export class Fuzz {
  readonly #r: () => number;

  /** Starts the sequence for `seed`. */
  constructor(seed: number) {
    this.#r = mulberry32(seed);
  }

  /** A float in [0, 1). */
  next(): number {
    return this.#r();
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.#r() * n);
  }

  /** True with probability `p`. */
  chance(p = 0.5): boolean {
    return this.#r() < p;
  }

  /** One of `xs`. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  /** `n` random bytes. */
  bytes(n: number): Bytes {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  /** A random string: odd, printable, random code units, or long. */
  string(): string {
    switch (this.int(6)) {
      case 0:
        return this.pick(ODD_STRINGS);
      case 1:
        return String.fromCharCode(...Array.from({ length: this.int(12) }, () => this.int(65536)));
      case 2:
        return "x".repeat(this.int(5000));
      default:
        return Array.from({ length: this.int(16) }, () => String.fromCharCode(32 + this.int(95)))
          .join("");
    }
  }

  /** A random number, including extremes that JSON can carry. */
  number(): number {
    return this.pick([
      0,
      -0,
      1,
      -1,
      0.5,
      1e308,
      -1e308,
      5e-324,
      2 ** 53 + 1,
      this.int(100),
      this.next() * 1e6 - 5e5,
    ]);
  }

  /** A random JSON value (as `JSON.parse` could return it), nested to at most `depth`. */
  json(depth = 2): unknown {
    switch (this.int(depth > 0 ? 7 : 5)) {
      case 0:
        return null;
      case 1:
        return this.chance();
      case 2:
        return this.number();
      case 3:
      case 4:
        return this.string();
      case 5:
        return Array.from({ length: this.int(4) }, () => this.json(depth - 1));
      default: {
        const o: Record<string, unknown> = {};
        for (let i = this.int(4); i > 0; i--) {
          setOwn(o, this.string().slice(0, 20), this.json(depth - 1));
        }
        return o;
      }
    }
  }

  /**
   * `value` with some fields replaced by random JSON values (wrong types), deleted, or added;
   * nested objects are mutated too.
   */
  mutateFields(value: unknown, rate = 0.3): unknown {
    if (Array.isArray(value)) {
      return value.map((v) => (this.chance(rate / 3) ? this.json() : this.mutateFields(v, rate)));
    }
    if (typeof value !== "object" || value === null) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (this.chance(rate / 4)) continue; // deleted
      setOwn(out, k, this.chance(rate) ? this.json() : this.mutateFields(v, rate));
    }
    if (this.chance(rate / 4)) setOwn(out, this.string().slice(0, 20), this.json());
    return out;
  }

  /** `text` damaged at the byte level: flipped, truncated, cut, duplicated, padded, torn. */
  mutateBytes(bytes: Uint8Array): Bytes {
    let b: Bytes = new Uint8Array(bytes);
    for (let n = 1 + this.int(3); n > 0; n--) {
      const at = this.int(b.length + 1);
      switch (this.int(7)) {
        case 0: // flip a byte
          if (b.length) b[Math.min(at, b.length - 1)] ^= 1 << this.int(8);
          break;
        case 1: // truncate
          b = b.slice(0, at);
          break;
        case 2: // cut a slice out
          b = concat(b.slice(0, at), b.slice(Math.min(b.length, at + this.int(64))));
          break;
        case 3: // insert random bytes
          b = concat(concat(b.slice(0, at), this.bytes(this.int(32))), b.slice(at));
          break;
        case 4: // duplicate a slice
          b = concat(concat(b.slice(0, at), b.slice(at, at + this.int(200))), b.slice(at));
          break;
        case 5: // insert a newline (a torn line)
          b = concat(concat(b.slice(0, at), new Uint8Array([10])), b.slice(at));
          break;
        default: // a NUL or an invalid UTF-8 byte
          b = concat(
            concat(b.slice(0, at), new Uint8Array([this.pick([0, 0xc3, 0xff])])),
            b.slice(at),
          );
      }
    }
    return b;
  }
}

/** Sets an own property, `__proto__` included (as `JSON.parse` makes it). */
function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/** `a` followed by `b`. */
export function concat(a: Uint8Array, b: Uint8Array): Bytes {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** True for errors that a parser raised by accident (a bug), not on purpose. */
export function isAccidental(err: unknown): boolean {
  return err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError ||
    err instanceof SyntaxError || !(err instanceof Error);
}
