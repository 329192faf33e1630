import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { maxAbsDiff, random } from '../../test/support/models.js';
import { synthesize, trimToVoice } from '../../test/support/speech-audio.js';
import { Fft } from './fft.js';
import { KWS_MFCC, keywordFeatures, keywordWindows, mfcc } from './mfcc.js';

/**
 * The reference pipeline written out plainly from get_dataset.py and tf.signal's definitions:
 * O(N^2) DFT, the mel matrix from linspace'd edges, DCT-II by its sum. Shares nothing with mfcc.ts.
 */
function referenceMfcc(x: Float32Array): number[][] {
  const { frameLength: L, frameStep: S, fftLength: N, melBins: M, coefficients: C, sampleRate: rate } = KWS_MFCC;
  const cosTable = Array.from({ length: N }, (_, i) => Math.cos((2 * Math.PI * i) / N));
  const sinTable = Array.from({ length: N }, (_, i) => Math.sin((2 * Math.PI * i) / N));
  const linspace = (a: number, b: number, n: number) => Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
  const toMel = (hz: number) => 1127 * Math.log(1 + hz / 700);
  const bins = N / 2 + 1;
  const binMel = linspace(0, rate / 2, bins).map(toMel);
  const edges = linspace(toMel(20), toMel(4000), M + 2);
  const weight = (k: number, m: number) =>
    k === 0
      ? 0
      : Math.max(
          0,
          Math.min((binMel[k]! - edges[m]!) / (edges[m + 1]! - edges[m]!), (edges[m + 2]! - binMel[k]!) / (edges[m + 2]! - edges[m + 1]!)),
        );
  const frames: number[][] = [];
  for (let start = 0; start + L <= x.length; start += S) {
    const windowed = Array.from({ length: N }, (_, n) => (n < L ? x[start + n]! * (0.5 - 0.5 * Math.cos((2 * Math.PI * n) / L)) : 0));
    const magnitude = Array.from({ length: bins }, (_, k) => {
      let re = 0;
      let im = 0;
      for (let n = 0; n < N; n += 1) {
        re += windowed[n]! * cosTable[(k * n) % N]!;
        im -= windowed[n]! * sinTable[(k * n) % N]!;
      }
      return Math.sqrt(re * re + im * im);
    });
    const logMel = Array.from({ length: M }, (_, m) => Math.log(magnitude.reduce((s, v, k) => s + v * weight(k, m), 0) + 1e-6));
    // tf.signal.dct type II (2 * sum) times rsqrt(2 M).
    frames.push(
      Array.from(
        { length: C },
        (_, c) => (2 * logMel.reduce((s, v, m) => s + v * Math.cos((Math.PI * c * (2 * m + 1)) / (2 * M)), 0)) / Math.sqrt(2 * M),
      ),
    );
  }
  return frames;
}

describe('Fft', () => {
  it('matches a direct DFT on random complex input', () => {
    const rand = random(3);
    const n = 64;
    const re = Float64Array.from({ length: n }, () => rand() - 0.5);
    const im = Float64Array.from({ length: n }, () => rand() - 0.5);
    const expected = Array.from({ length: n }, (_, k) => {
      let [r, i] = [0, 0];
      for (let t = 0; t < n; t += 1) {
        const a = (-2 * Math.PI * k * t) / n;
        r += re[t]! * Math.cos(a) - im[t]! * Math.sin(a);
        i += re[t]! * Math.sin(a) + im[t]! * Math.cos(a);
      }
      return [r, i];
    });
    new Fft(n).transform(re, im);
    assert.ok(
      maxAbsDiff(
        re,
        expected.map((e) => e[0]!),
      ) < 1e-12,
    );
    assert.ok(
      maxAbsDiff(
        im,
        expected.map((e) => e[1]!),
      ) < 1e-12,
    );
    assert.throws(() => new Fft(1000), /power of two/);
  });
});

describe('mfcc (MLPerf Tiny KWS front end)', () => {
  let speech: Float32Array;
  before(async () => {
    speech = keywordWindows(trimToVoice(await synthesize('yes')))[0]!;
  });

  it('gives 49 frames x 10 coefficients for one second, none for less than one frame', () => {
    assert.equal(mfcc(new Float32Array(16000)).length, 49 * 10);
    assert.equal(mfcc(new Float32Array(639)).length, 0);
    assert.equal(mfcc(new Float32Array(960)).length, 2 * 10);
  });

  it('matches the plainly written reference within 1e-3 on espeak-ng speech and on a sine', () => {
    const sine = Float32Array.from({ length: 16000 }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 700 * i) / 16000));
    for (const [name, x] of [
      ['speech', speech],
      ['sine', sine],
    ] as const) {
      const ours = mfcc(x);
      const reference = referenceMfcc(x).flat();
      const diff = maxAbsDiff(ours, reference);
      console.log(`mfcc vs reference on ${name}: max abs diff ${diff.toExponential(2)} over ${reference.length} values`);
      assert.ok(diff < 1e-3, `${name}: ${diff}`);
    }
  });

  it('splits audio into 1 s windows, padding the last with zeros', () => {
    const windows = keywordWindows(Float32Array.from({ length: 40000 }, (_, i) => i + 1));
    assert.deepEqual(
      windows.map((w) => w.length),
      [16000, 16000, 16000],
    );
    assert.deepEqual([windows[1]![0], windows[2]![7999], windows[2]![8000], windows[2]![15999]], [16001, 40000, 0, 0]);
    assert.deepEqual(keywordWindows(new Float32Array(0)), []);
  });

  it('scales a window by its maximum sample first, as the reference did in training', () => {
    assert.ok(maxAbsDiff(keywordFeatures(speech.map((v) => v * 0.1)), keywordFeatures(speech)) < 1e-3);
    assert.ok(keywordFeatures(new Float32Array(16000)).every(Number.isFinite));
  });
});
