import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { ImagePreprocess } from '../contracts/model-manifest.js';

/** Formats accepted from clients; vector and document formats (SVG, PDF) are not photos and are refused. */
const FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif', 'avif']);

const BACKGROUNDS: Record<ImagePreprocess['background'], string> = { white: '#ffffff', black: '#000000', gray: '#727272' };

export interface RgbPixels {
  /** RGB, 3 bytes per pixel, row-major, EXIF orientation applied. */
  data: Uint8Array;
  width: number;
  height: number;
}

/** What an image's header may claim before it is decoded; AppConfig's `media` has these fields. */
export interface ImageLimits {
  maxImagePixels: number;
  maxImageSide: number;
  maxImageAspectRatio: number;
}

/**
 * Reads the header only, then refuses what must not be decoded: unknown formats, and images whose
 * decode would cost too much. Pixels alone do not bound that cost: libvips pays per row and per
 * column too, so a 95 KB PNG of 1 x 49,000,000 pixels (under the pixel limit) took 22-30 s of OCR.
 * The longer side and the aspect ratio are bounded as well.
 */
export async function openImage(
  bytes: Buffer,
  limits: ImageLimits,
  where: string,
): Promise<{ image: Sharp; width: number; height: number }> {
  const image = sharp(bytes, { limitInputPixels: false, failOn: 'warning', autoOrient: true, sequentialRead: true });
  let meta: Metadata;
  try {
    meta = await image.metadata();
  } catch (err) {
    throw new AppError(ErrorCode.MediaInvalid, `${where} is not an image that can be decoded: ${firstLine(err)}`);
  }
  if (!FORMATS.has(meta.format))
    throw new AppError(ErrorCode.MediaInvalid, `${where} is ${meta.format}; send JPEG, PNG, WebP, GIF, TIFF, HEIF or AVIF`);
  const { width, height } = meta.autoOrient;
  const problem = beyondLimits(width, height, limits);
  if (problem) throw new AppError(ErrorCode.MediaTooLarge, `${where} is ${width} x ${height}${problem}`);
  return { image, width, height };
}

/** The first limit a width x height image passes, as the end of a sentence, or undefined within them all. */
export function beyondLimits(width: number, height: number, limits: ImageLimits): string | undefined {
  const pixels = width * height;
  if (pixels > limits.maxImagePixels) return ` = ${pixels} pixels; the limit is ${limits.maxImagePixels}`;
  const longer = Math.max(width, height);
  if (longer > limits.maxImageSide) return `; its longer side is ${longer} pixels, the limit is ${limits.maxImageSide}`;
  const ratio = longer / Math.max(1, Math.min(width, height));
  if (ratio > limits.maxImageAspectRatio) {
    return `; its aspect ratio is ${Number(ratio.toFixed(2))}:1, the limit is ${limits.maxImageAspectRatio}:1`;
  }
  return undefined;
}

/** Decodes a whole image to RGB (alpha flattened onto white), for pipelines that work in original pixels. */
export async function decodeRgb(bytes: Buffer, limits: ImageLimits, where = 'the image'): Promise<RgbPixels> {
  const { image } = await openImage(bytes, limits, where);
  const { data, info } = await decode(image.flatten({ background: '#ffffff' }).removeAlpha().toColourspace('srgb'), where);
  return { data, width: info.width, height: info.height };
}

/**
 * Decodes and resizes with libvips (off the event loop, on libuv's threads), then normalises into
 * one image's tensor data as the manifest describes: [C, H, W] or [H, W, C] float32.
 */
export async function imageToTensor(bytes: Buffer, pre: ImagePreprocess, limits: ImageLimits, where = 'the image'): Promise<Float32Array> {
  const { image, width, height } = await openImage(bytes, limits, where);
  const background = BACKGROUNDS[pre.background];
  let pipeline = image.flatten({ background });
  if (pre.channels === 'gray') pipeline = pipeline.greyscale();
  if (pre.trim) pipeline = pipeline.trim();
  if (pre.fit === 'stretch') {
    pipeline = pipeline.resize(pre.width, pre.height, { fit: 'fill' });
  } else if (pre.fit === 'contain') {
    const inner = { width: Math.max(1, pre.width - 2 * pre.padding), height: Math.max(1, pre.height - 2 * pre.padding) };
    pipeline = pipeline
      .resize({ ...inner, fit: 'contain', background })
      .extend({ top: pre.padding, bottom: pre.padding, left: pre.padding, right: pre.padding, background });
  } else {
    // torchvision's Resize(shorter side) + CenterCrop: trimming is not combined with this mode.
    const shorter = pre.resize ?? Math.max(pre.width, pre.height);
    const scale = shorter / Math.min(width, height);
    const rw = Math.max(pre.width, Math.round(width * scale));
    const rh = Math.max(pre.height, Math.round(height * scale));
    // A thin image (1 x 1000000 is only a million pixels) grows by the same factor on both sides: the
    // resized image is bounded like a decoded one, before sharp refuses it (over 100000000 per side) or makes it.
    if (rw * rh > limits.maxImagePixels) {
      throw new AppError(
        ErrorCode.MediaTooLarge,
        `${where} is ${width} x ${height}; with its shorter side resized to ${shorter} it would be ${rw} x ${rh} = ${rw * rh} pixels; the limit is ${limits.maxImagePixels}`,
      );
    }
    pipeline = pipeline
      .resize(rw, rh, { fit: 'fill' })
      .extract({ left: Math.floor((rw - pre.width) / 2), top: Math.floor((rh - pre.height) / 2), width: pre.width, height: pre.height });
  }
  return toTensor(pipeline, pre, where);
}

/**
 * Where the image sits in a detector's input: input pixel = image pixel * scale + offset (the
 * letterbox or stretch undone by the inverse), and the image's size after EXIF orientation.
 */
export interface Placement {
  width: number;
  height: number;
  scaleX: number;
  scaleY: number;
  left: number;
  top: number;
}

/**
 * A detector's input: `stretch` to width x height, or `contain` (a letterbox: aspect kept, centred
 * on `background`, `padding` on each side), with where the image landed so boxes can be mapped back.
 * The resized size is computed here, not left to libvips, so the placement is exact. `crop` and
 * `trim` are not for detectors (their callers refuse them): they would cut objects off.
 */
export async function imageForDetector(
  bytes: Buffer,
  pre: ImagePreprocess,
  limits: ImageLimits,
  where = 'the image',
): Promise<{ data: Float32Array; placement: Placement }> {
  const { image, width, height } = await openImage(bytes, limits, where);
  const background = BACKGROUNDS[pre.background];
  let pipeline = image.flatten({ background });
  if (pre.channels === 'gray') pipeline = pipeline.greyscale();
  let placement: Placement;
  if (pre.fit === 'stretch') {
    placement = { width, height, scaleX: pre.width / width, scaleY: pre.height / height, left: 0, top: 0 };
    pipeline = pipeline.resize(pre.width, pre.height, { fit: 'fill' });
  } else {
    // contain
    const scale = Math.min((pre.width - 2 * pre.padding) / width, (pre.height - 2 * pre.padding) / height);
    const rw = Math.max(1, Math.round(width * scale));
    const rh = Math.max(1, Math.round(height * scale));
    const left = Math.floor((pre.width - rw) / 2);
    const top = Math.floor((pre.height - rh) / 2);
    placement = { width, height, scaleX: rw / width, scaleY: rh / height, left, top };
    pipeline = pipeline
      .resize(rw, rh, { fit: 'fill' })
      .extend({ top, bottom: pre.height - rh - top, left, right: pre.width - rw - left, background });
  }
  return { data: await toTensor(pipeline, pre, where), placement };
}

async function toTensor(pipeline: Sharp, pre: ImagePreprocess, where: string): Promise<Float32Array> {
  const out = pre.channels === 'gray' ? pipeline.toColourspace('b-w') : pipeline.removeAlpha().toColourspace('srgb');
  const { data, info } = await decode(out, where);
  const channels = pre.channels === 'gray' ? 1 : 3;
  if (info.channels !== channels || info.width !== pre.width || info.height !== pre.height) {
    throw new AppError(
      ErrorCode.Internal,
      `image preprocessing produced ${info.width}x${info.height}x${info.channels}, expected ${pre.width}x${pre.height}x${channels}`,
    );
  }
  return normalise(data, pre);
}

/** ((invert ? 255 - p : p) * scale - mean[c]) / std[c], reordered to the model's channel order and layout. */
export function normalise(pixels: Uint8Array, pre: ImagePreprocess): Float32Array {
  const channels = pre.channels === 'gray' ? 1 : 3;
  const plane = pre.width * pre.height;
  const out = new Float32Array(plane * channels);
  for (let c = 0; c < channels; c += 1) {
    // BGR models read channel 0 from the image's blue.
    const from = pre.channels === 'bgr' ? 2 - c : c;
    const mean = pre.mean[pre.mean.length === 1 ? 0 : c]!;
    const std = pre.std[pre.std.length === 1 ? 0 : c]!;
    const mul = pre.scale / std;
    const add = -mean / std;
    const nchw = pre.layout === 'nchw';
    for (let i = 0; i < plane; i += 1) {
      const p = pixels[i * channels + from]!;
      out[nchw ? c * plane + i : i * channels + c] = (pre.invert ? 255 - p : p) * mul + add;
    }
  }
  return out;
}

async function decode(pipeline: Sharp, where: string): Promise<{ data: Uint8Array; info: OutputInfo }> {
  try {
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), info };
  } catch (err) {
    throw new AppError(ErrorCode.MediaInvalid, `${where} could not be decoded: ${firstLine(err)}`);
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);
}
