import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type SpeechSegment, speechSegments } from './vad.js';

/** Windows of 512 samples at 16 kHz: 32 ms each. */
const run = (parts: Array<[number, number]>) => parts.flatMap(([p, n]) => Array<number>(n).fill(p));
const seconds = (segments: SpeechSegment[]) => segments.map((s) => [s.start, s.end]);

describe('speechSegments (get_speech_timestamps semantics)', () => {
  const table: Array<[string, number[], Parameters<typeof speechSegments>[1], number[][]]> = [
    [
      'one segment, padded 30 ms each side',
      run([
        [0, 10],
        [0.9, 20],
        [0, 10],
      ]),
      {},
      [[0.29, 0.99]],
    ],
    [
      'speech of 7 windows (224 ms) is dropped',
      run([
        [0, 5],
        [0.9, 7],
        [0, 10],
      ]),
      {},
      [],
    ],
    [
      'speech of 8 windows (256 ms) is kept',
      run([
        [0, 5],
        [0.9, 8],
        [0, 10],
      ]),
      {},
      [[0.13, 0.446]],
    ],
    [
      '0.4 lies between neg_threshold and threshold: speech goes on',
      run([
        [0, 5],
        [0.9, 10],
        [0.4, 10],
        [0.9, 5],
        [0, 10],
      ]),
      {},
      [[0.13, 0.99]],
    ],
    [
      'a 4-window (128 ms) dip never reaches 100 ms of silence at a low window',
      run([
        [0, 5],
        [0.9, 10],
        [0.1, 4],
        [0.9, 10],
        [0, 10],
      ]),
      {},
      [[0.13, 0.958]],
    ],
    [
      'a 5-window dip splits; pads do not meet',
      run([
        [0, 5],
        [0.9, 10],
        [0.1, 5],
        [0.9, 10],
        [0, 10],
      ]),
      {},
      [
        [0.13, 0.51],
        [0.61, 0.99],
      ],
    ],
    [
      'segments closer than two pads share the gap',
      run([
        [0.9, 10],
        [0.1, 1],
        [0.9, 10],
      ]),
      { minSilenceDurationMs: 0 },
      [
        [0, 0.336],
        [0.336, 0.672],
      ],
    ],
    [
      'speech running to the end ends with the audio',
      run([
        [0, 5],
        [0.9, 10],
      ]),
      { totalSamples: 7600 },
      [[0.13, 0.475]],
    ],
    [
      'max_speech splits at the silence seen, then cuts hard',
      run([
        [0.9, 20],
        [0.1, 4],
        [0.9, 30],
        [0, 10],
      ]),
      { maxSpeechDurationS: 1 },
      [
        [0, 0.67],
        [0.738, 1.726],
      ],
    ],
  ];
  for (const [name, probs, options, expected] of table) {
    it(name, () => assert.deepEqual(seconds(speechSegments(probs, options)), expected));
  }

  it('gives the mean probability of the windows a segment was detected in', () => {
    const [segment] = speechSegments(
      run([
        [0, 5],
        [0.6, 5],
        [1, 5],
        [0, 10],
      ]),
    );
    assert.ok(Math.abs(segment!.confidence - 0.8) < 1e-12);
  });

  it('keeps the default of an option given as undefined', () => {
    const probs = run([
      [0, 10],
      [0.9, 20],
      [0, 10],
    ]);
    assert.deepEqual(
      speechSegments(probs, { threshold: undefined, negThreshold: undefined, speechPadMs: undefined }),
      speechSegments(probs),
    );
  });

  it('clamps the default neg_threshold at 0.01', () => {
    // threshold 0.1: neg_threshold would be -0.05, and nothing could end speech.
    assert.deepEqual(
      seconds(
        speechSegments(
          run([
            [0.2, 10],
            [0.005, 10],
          ]),
          { threshold: 0.1 },
        ),
      ),
      [[0, 0.35]],
    );
  });
});
