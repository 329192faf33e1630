/** Example media for the OpenAPI document: Swagger UI's "Try it out" sends them as they are. */

/** A 16x16 grey PNG with a dark X. */
export const SAMPLE_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAAAAAA6mKC9AAAAOklEQVR4nH2P0QoAIAwC7/9/2mAVcxLtyRMUBxoHGk4hzkUYb6D56JSyqpsH/Y2MvPtb57Ccns/l+wuQ+t8hHdZe+wAAAABJRU5ErkJggg==';

/** 0.1 s of a 318 Hz tone, 16 kHz mono 16-bit PCM WAV, built here rather than pasted as 4 KB of base64. */
export const SAMPLE_WAV = toneWav(1600).toString('base64');

function toneWav(samples: number): Buffer {
  const wav = Buffer.alloc(44 + samples * 2);
  wav.write('RIFF', 0);
  wav.writeUInt32LE(36 + samples * 2, 4);
  wav.write('WAVEfmt ', 8);
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(16_000, 24);
  wav.writeUInt32LE(32_000, 28);
  wav.writeUInt16LE(2, 32);
  wav.writeUInt16LE(16, 34);
  wav.write('data', 36);
  wav.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i += 1) wav.writeInt16LE(Math.round(3000 * Math.sin(i / 8)), 44 + i * 2);
  return wav;
}
