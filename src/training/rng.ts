/**
 * xoshiro128** (Blackman and Vigna): a small, fast generator whose whole state is four 32-bit words,
 * so a training run can save it and continue the same sequence after a restart.
 */
export class Rng {
  private readonly s: Uint32Array;

  private constructor(words: Uint32Array) {
    this.s = Uint32Array.from(words);
    if (this.s.length !== 4 || this.s.every((w) => w === 0)) throw new RangeError('xoshiro128** needs four words, not all zero');
  }

  /** Expands a 32-bit seed with splitmix32, as the xoshiro authors recommend. */
  static fromSeed(seed: number): Rng {
    let x = seed >>> 0;
    const words = new Uint32Array(4);
    for (let i = 0; i < 4; i += 1) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      words[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (words.every((w) => w === 0)) words[0] = 1;
    return new Rng(words);
  }

  static fromState(words: Uint32Array): Rng {
    return new Rng(words);
  }

  state(): Uint32Array {
    return Uint32Array.from(this.s);
  }

  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /**
   * Fills `out` with dropout mask values: 0 with probability `drop`, else `keep`; one draw per value,
   * the same draws as nextUint32() but with the state in locals (dropout needs millions per epoch).
   */
  fillMask(out: Float32Array, drop: number, keep: number): void {
    // Everything stays in int32 (no >>> 0, which makes V8 box values past 2^31): unsigned x < t is
    // signed (x ^ 2^31) < t - 2^31.
    const threshold = drop * 4294967296 - 2147483648;
    let s0 = this.s[0]! | 0;
    let s1 = this.s[1]! | 0;
    let s2 = this.s[2]! | 0;
    let s3 = this.s[3]! | 0;
    for (let i = 0; i < out.length; i += 1) {
      const m = Math.imul(s1, 5);
      const x = Math.imul((m << 7) | (m >>> 25), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      out[i] = (x ^ -2147483648) < threshold ? 0 : keep;
    }
    this.s[0] = s0;
    this.s[1] = s1;
    this.s[2] = s2;
    this.s[3] = s3;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** Uniform integer in [0, bound), bound <= 2^32, without modulo bias (rejection). */
  nextBelow(bound: number): number {
    const limit = 4294967296 - (4294967296 % bound);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % bound;
    }
  }

  /** Fisher–Yates over 0..n-1. */
  permutation(n: number): Int32Array {
    const order = new Int32Array(n);
    for (let i = 0; i < n; i += 1) order[i] = i;
    for (let i = n - 1; i > 0; i -= 1) {
      const j = this.nextBelow(i + 1);
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    return order;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
