// Randomness as a value: cores take an Rng argument instead of calling
// Math.random(), so a seed replays a simulation or a randomized test exactly.

export interface Rng {
  /** Uniform 32-bit unsigned integer. */
  u32(): number;
  /** Uniform float in [0, 1). */
  float(): number;
  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  /** Uniform 64-bit unsigned integer as a bigint. */
  u64(): bigint;
}

/**
 * xoshiro128** (Blackman & Vigna), seeded through splitmix32 so that any
 * 32-bit seed, 0 included, gives a good state.
 */
export function seededRng(seed: number): Rng {
  let x = seed >>> 0;
  const split = (): number => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split(),
    b = split(),
    c = split(),
    d = split();
  const u32 = (): number => {
    const r = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c = (c ^ t) >>> 0;
    d = rotl(d, 11);
    a >>>= 0;
    b >>>= 0;
    return r;
  };
  return {
    u32,
    float: () => u32() / 4294967296,
    int: (lo, hi) => lo + Math.floor((u32() / 4294967296) * (hi - lo + 1)),
    u64: () => (BigInt(u32()) << 32n) | BigInt(u32()),
  };
}

function rotl(v: number, k: number): number {
  return ((v << k) | (v >>> (32 - k))) >>> 0;
}

/**
 * An Rng drawing from the OS CSPRNG, for real sockets: the random transmit
 * timestamp of a request is only an anti-spoofing defence if it cannot be
 * predicted. Buffers 4 KiB at a time.
 */
export function cryptoRng(fill: (buf: Uint32Array) => void): Rng {
  const buf = new Uint32Array(1024);
  let at = buf.length;
  const u32 = (): number => {
    if (at === buf.length) {
      fill(buf);
      at = 0;
    }
    return buf[at++]!;
  };
  return {
    u32,
    float: () => u32() / 4294967296,
    int: (lo, hi) => lo + Math.floor((u32() / 4294967296) * (hi - lo + 1)),
    u64: () => (BigInt(u32()) << 32n) | BigInt(u32()),
  };
}
