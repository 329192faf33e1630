import sharp from 'sharp';
import { AppError } from '../../common/errors/app-error.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import { type ImageLimits, openImage } from '../image-input.js';
import type { DetectedObject } from './detection-pipeline.js';

export type RenderFormat = 'png' | 'jpeg';

const COLOURS = ['#ff2d55', '#34c759', '#0a84ff', '#ff9f0a', '#bf5af2', '#64d2ff', '#ffd60a', '#ff375f'];

/** Sizes that grow with the image so the drawing reads the same on a thumbnail and a photo. */
export interface OverlayLayout {
  /** The box outline's width, centred on the box's edges. */
  stroke: number;
  /** The label tag's height; it sits on the box's top edge, outside the box when there is room. */
  tag: number;
  /** A keypoint dot's radius. */
  dot: number;
}

export function overlayLayout(width: number, height: number): OverlayLayout {
  const side = Math.min(width, height);
  const stroke = Math.max(2, Math.round(side / 200));
  return { stroke, tag: Math.max(12, Math.round(side / 28)), dot: stroke + 1 };
}

/** The label tag's rectangle (x, y, width, height) for a box. */
export function tagRect(object: DetectedObject, layout: OverlayLayout): [number, number, number, number] {
  const text = `${object.label} ${object.score.toFixed(2)}`;
  const width = Math.ceil(text.length * layout.tag * 0.6) + layout.tag / 2;
  const y = object.box.ymin >= layout.tag ? object.box.ymin - layout.tag : object.box.ymin;
  return [object.box.xmin, y, width, layout.tag];
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The drawing as an SVG the image's size: outlines, label tags, keypoint dots, transparent elsewhere. */
export function overlaySvg(objects: readonly DetectedObject[], width: number, height: number, labels: readonly string[]): string {
  const layout = overlayLayout(width, height);
  const parts = objects.map((o) => {
    const colour = COLOURS[Math.max(0, labels.indexOf(o.label)) % COLOURS.length]!;
    const { xmin, ymin, xmax, ymax } = o.box;
    const [tx, ty, tw, th] = tagRect(o, layout);
    const dots = (o.keypoints ?? []).map((k) => `<circle cx="${k.x}" cy="${k.y}" r="${layout.dot}" fill="${colour}"/>`).join('');
    return (
      `<rect x="${xmin}" y="${ymin}" width="${xmax - xmin}" height="${ymax - ymin}" fill="none" stroke="${colour}" stroke-width="${layout.stroke}"/>` +
      `<rect x="${tx}" y="${ty}" width="${tw}" height="${th}" fill="${colour}"/>` +
      `<text x="${tx + th / 4}" y="${ty + th * 0.8}" font-family="sans-serif" font-size="${th * 0.8}" fill="#ffffff">${escapeXml(
        `${o.label} ${o.score.toFixed(2)}`,
      )}</text>` +
      dots
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
}

/**
 * The image (EXIF-oriented, alpha flattened onto white, as detection saw it) with the objects drawn
 * on it by libvips' compositing, encoded as PNG (lossless) or JPEG.
 */
export async function renderDetections(
  bytes: Buffer,
  objects: readonly DetectedObject[],
  labels: readonly string[],
  limits: ImageLimits,
  format: RenderFormat,
  where = 'the image',
): Promise<Buffer> {
  const { image, width, height } = await openImage(bytes, limits, where);
  const svg = Buffer.from(overlaySvg(objects, width, height, labels));
  try {
    // Compositing adds an alpha channel libvips cannot drop in the same pipeline: a second one drops it.
    const { data, info } = await image
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .composite([{ input: svg, left: 0, top: 0 }])
      .raw()
      .toBuffer({ resolveWithObject: true });
    const drawn = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } }).removeAlpha();
    return await (format === 'png' ? drawn.png() : drawn.jpeg({ quality: 90 })).toBuffer();
  } catch (err) {
    throw new AppError(
      ErrorCode.MediaInvalid,
      `${where} could not be drawn on: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`,
    );
  }
}
