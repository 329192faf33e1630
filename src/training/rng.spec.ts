import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from './rng.js';

describe('Rng (xoshiro128**)', () => {
  it('matches the reference implementation from state {1, 2, 3, 4}', () => {
    // The first outputs of Blackman and Vigna's xoshiro128starstar.c seeded with s = {1, 2, 3, 4}.
    const rng = Rng.fromState(Uint32Array.of(1, 2, 3, 4));
    assert.deepEqual([rng.nextUint32(), rng.nextUint32(), rng.nextUint32(), rng.nextUint32()], [11520, 0, 5927040, 70819200]);
  });

  it('fills dropout masks from the same sequence as nextUint32', () => {
    const a = Rng.fromSeed(99);
    const b = Rng.fromSeed(99);
    const mask = new Float32Array(1000);
    a.fillMask(mask, 0.3, 2);
    const expected = Float32Array.from({ length: 1000 }, () => (b.nextUint32() < 0.3 * 2 ** 32 ? 0 : 2));
    assert.deepEqual(mask, expected);
    assert.deepEqual(a.state(), b.state());
    const dropped = mask.filter((v) => v === 0).length;
    assert.ok(dropped > 250 && dropped < 350, `${dropped} of 1000 dropped`);
  });

  it('continues the same sequence from a saved state', () => {
    const a = Rng.fromSeed(12345);
    a.permutation(50);
    const b = Rng.fromState(a.state());
    assert.deepEqual(
      Array.from({ length: 5 }, () => a.nextFloat()),
      Array.from({ length: 5 }, () => b.nextFloat()),
    );
  });

  it('draws floats in [0, 1), integers below a bound, and permutations', () => {
    const rng = Rng.fromSeed(7);
    const counts = new Array<number>(5).fill(0);
    for (let i = 0; i < 5000; i += 1) {
      const f = rng.nextFloat();
      assert.ok(f >= 0 && f < 1);
      counts[rng.nextBelow(5)]! += 1;
    }
    for (const c of counts) assert.ok(c > 900 && c < 1100, `counts ${counts.join(', ')}`);
    assert.deepEqual(
      Array.from(rng.permutation(10)).sort((x, y) => x - y),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.notDeepEqual(Rng.fromSeed(1).state(), Rng.fromSeed(2).state());
    assert.throws(() => Rng.fromState(new Uint32Array(4)), /not all zero/);
  });
});
