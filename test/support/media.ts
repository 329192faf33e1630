import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { ROOT } from './processes.js';

/** The real pretrained models beside the project (not part of it), or where LATHE_TEST_SHARED_MODELS says; suites that need them skip without. */
export const SHARED_MODELS = process.env.LATHE_TEST_SHARED_MODELS || join(ROOT, '../shared/models');
export const HAVE_SHARED_MODELS = existsSync(join(SHARED_MODELS, 'mobilenetv2-12-int8.onnx'));
export const SHARED_SKIP = HAVE_SHARED_MODELS
  ? false
  : `${SHARED_MODELS} is missing: the suite with the shared real models and photos (MobileNetV2, keyword spotting, BlazeFace on its photos) is skipped`;

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A well-formed PNG header claiming width x height pixels, with almost no pixel data behind it. */
export function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, deflate, no filter, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * A complete, decodable 1-bit black PNG of width x height (at most 8 pixels wide): every row is
 * there, so a decoder pays for each of them. 1 x 49,000,000 compresses to about 95 KB.
 */
export function blackBitmapPng(width: number, height: number): Buffer {
  if (width > 8) throw new Error('blackBitmapPng draws at most 8 pixels a row');
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([1, 0, 0, 0, 0], 8); // 1-bit greyscale, deflate, no filter, no interlace
  // Each row: filter byte 0, then one byte of (black) pixels.
  const rows = Buffer.alloc(2 * height);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(rows, { level: 9 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A real photo-sized JPEG cut off halfway. */
export async function truncatedJpeg(): Promise<Buffer> {
  const jpeg = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#3a7' } })
    .composite([
      {
        input: Buffer.from(
          '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240"><circle cx="160" cy="120" r="90" fill="#c33"/></svg>',
        ),
      },
    ])
    .jpeg({ quality: 90 })
    .toBuffer();
  return jpeg.subarray(0, Math.floor(jpeg.length / 2));
}
