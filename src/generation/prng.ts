import { randomInt } from 'node:crypto';

/**
 * The random numbers of one generated sequence: xoshiro128** (Blackman and Vigna, 2018), a 128-bit
 * state of four 32-bit words, seeded by splitmix64 from the request's seed as the xoshiro authors
 * recommend. The same seed always gives the same stream on every platform (integer arithmetic only),
 * so the same request with the same seed samples the same tokens. Each draw of `nextFloat` uses two
 * 32-bit outputs for a double with 53 random bits in [0, 1).
 */
export class SequenceRng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** `seed` is any safe integer (negative ones too); it is read as a 64-bit two's-complement value. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, not ${seed}`);
    let x = BigInt.asUintN(64, BigInt(seed));
    const words: number[] = [];
    for (let i = 0; i < 2; i += 1) {
      x = BigInt.asUintN(64, x + 0x9e3779b97f4a7c15n);
      let z = x;
      z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
      z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
      z ^= z >> 31n;
      words.push(Number(z & 0xffffffffn), Number(z >> 32n));
    }
    [this.s0, this.s1, this.s2, this.s3] = words as [number, number, number, number];
    // An all-zero state would stay zero; splitmix64 cannot give it for two consecutive outputs, but be sure.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The next 32-bit output, as an unsigned integer. */
  nextUint32(): number {
    const m = Math.imul(this.s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  }
}

/**
 * The seed of choice `index` of a request with `n` choices: seed + index (seed - index at the top of
 * the safe-integer range), so that the choices differ from each other and each one is reproducible
 * on its own. A request without a seed gets one from randomSeed() first.
 */
export function choiceSeed(seed: number, index: number): number {
  const next = seed + index;
  // Past 2^53 sums round; step down instead so every choice still has its own seed.
  return Number.isSafeInteger(next) ? next : seed - index;
}

/** A seed for a request that gave none, from the platform’s CSPRNG (randomInt takes ranges under 2^48). */
export function randomSeed(): number {
  return randomInt(0, 2 ** 48 - 1);
}
