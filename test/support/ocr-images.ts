/**
 * Text images for the OCR tests, rendered from SVG with sharp and the DejaVu fonts. Each line's
 * bounding box is measured, not assumed: the line is rendered alone on the same canvas (turned
 * the same way) and the box is the extent of its dark pixels.
 */
import sharp, { type Sharp } from 'sharp';

export interface PixelBox {
  /** Pixel edges: the text covers columns x0..x1-1 and rows y0..y1-1. */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface OcrCase {
  name: string;
  png: Buffer;
  lines: Array<{ text: string; bbox: PixelBox }>;
}

export interface TextLayout {
  name: string;
  font: 'DejaVu Sans' | 'DejaVu Serif' | 'DejaVu Sans Mono';
  size: number;
  lines: string[];
  /** Baseline to baseline, in font sizes (default 1.6). */
  lineSpacing?: number;
  /** The whole image turned upside down. */
  rotate180?: boolean;
  ink?: string;
  paper?: string;
}

export const OCR_LAYOUTS: readonly TextLayout[] = [
  { name: 'invoice-serif', font: 'DejaVu Serif', size: 32, lines: ['Invoice 2024: Total $128.50'] },
  { name: 'order-sans', font: 'DejaVu Sans', size: 28, lines: ['Order #A-1093, qty 7 @ 3.25'] },
  { name: 'meeting-sans-small', font: 'DejaVu Sans', size: 22, lines: ['Meeting at 10:45 in Room 3B'] },
  { name: 'phone-mono', font: 'DejaVu Sans Mono', size: 24, lines: ['Call +1 (555) 867-5309 today'] },
  { name: 'pangram-serif', font: 'DejaVu Serif', size: 26, lines: ['The quick brown fox jumps over the lazy dog'] },
  { name: 'shipping-sans-large', font: 'DejaVu Sans', size: 36, lines: ['Shipping: 3-5 business days'], ink: '#1f2a44' },
  { name: 'balance-mono', font: 'DejaVu Sans Mono', size: 30, lines: ['Balance due 06/30/2025'] },
  { name: 'version-sans-44', font: 'DejaVu Sans', size: 44, lines: ['Version 4.2.1 released!'] },
  { name: 'humidity-serif-40', font: 'DejaVu Serif', size: 40, lines: ['Humidity 87% at 6 pm'], paper: '#f4f1e8' },
  { name: 'hello-sans-48', font: 'DejaVu Sans', size: 48, lines: ['Hello, World!'] },
  { name: 'page-serif-20', font: 'DejaVu Serif', size: 20, lines: ['Page 17 of 240'] },
  { name: 'total-mono', font: 'DejaVu Sans Mono', size: 26, lines: ['Total: 1,234,567.89 EUR'] },
  { name: 'tracking-sans', font: 'DejaVu Sans', size: 30, lines: ['Tracking ID: ZX-8841-QP'], ink: '#3a2a1a' },
  { name: 'email-sans-24', font: 'DejaVu Sans', size: 24, lines: ['Email: info@example.com'] },
  { name: 'revenue-serif', font: 'DejaVu Serif', size: 24, lines: ['Q3 revenue rose 12.4% year on year'] },
  { name: 'reference-serif-30', font: 'DejaVu Serif', size: 30, lines: ['Ref. No. 77/B; see p. 12'] },
  { name: 'lot-mono-36', font: 'DejaVu Sans Mono', size: 36, lines: ['Lot 5 - 20 x 30 cm'], paper: '#eef3f8' },
  { name: 'fruit-sans-34', font: 'DejaVu Sans', size: 34, lines: ['Apples, pears & plums'] },
  { name: 'letter-two-lines-serif', font: 'DejaVu Serif', size: 28, lines: ['Dear customer,', 'your parcel has shipped.'] },
  { name: 'receipt-two-lines-mono', font: 'DejaVu Sans Mono', size: 24, lines: ['Subtotal $42.00', 'Tax (8%) $3.36'] },
  { name: 'person-two-lines-sans', font: 'DejaVu Sans', size: 26, lines: ['Name: Ada Lovelace', 'Born: 10 December 1815'] },
  { name: 'gate-two-lines-sans-40', font: 'DejaVu Sans', size: 40, lines: ['Gate B12', 'Boarding 14:20'] },
  { name: 'due-two-lines-serif-22', font: 'DejaVu Serif', size: 22, lines: ['Invoice 2024-0042', 'Due in 30 days'] },
  {
    name: 'paragraph-sans-tight',
    font: 'DejaVu Sans',
    size: 22,
    lineSpacing: 1.25,
    lines: ['Returns are accepted within 30 days.', 'Keep the receipt and the original box.', 'Questions? Call us on 0800 123 456.'],
  },
  { name: 'upside-down-sans', font: 'DejaVu Sans', size: 32, lines: ['Upside down: 2048 units'], rotate180: true },
];

/** Pixels darker than this (0-255 luma) are ink; anti-aliased edges count, so boxes err on the large side. */
const INK_LUMA = 200;

const linePitch = (layout: TextLayout) => Math.round(layout.size * (layout.lineSpacing ?? 1.6));

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function svg(layout: TextLayout, width: number, height: number, only?: number): Buffer {
  const margin = Math.round(layout.size * 1.2);
  const pitch = linePitch(layout);
  const texts = layout.lines
    .map((line, i) => (only === undefined || only === i ? line : undefined))
    .map((line, i) =>
      line === undefined ? '' : `<text x="${margin}" y="${margin + Math.round(layout.size * 0.8) + i * pitch}">${escapeXml(line)}</text>`,
    )
    .join('');
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
      `<rect width="100%" height="100%" fill="${layout.paper ?? '#ffffff'}"/>` +
      `<g font-family="${layout.font}" font-size="${layout.size}" fill="${layout.ink ?? '#111111'}">${texts}</g></svg>`,
  );
}

function rasterise(layout: TextLayout, source: Buffer): Sharp {
  const image = sharp(source);
  return layout.rotate180 ? image.rotate(180) : image;
}

/** The extent of the ink in a rendered image, or undefined when there is none. */
async function inkBox(image: Sharp): Promise<PixelBox | undefined> {
  const { data, info } = await image.greyscale().raw().toBuffer({ resolveWithObject: true });
  let box: PixelBox | undefined;
  for (let y = 0; y < info.height; y += 1) {
    for (let x = 0; x < info.width; x += 1) {
      if (data[(y * info.width + x) * info.channels]! >= INK_LUMA) continue;
      box ??= { x0: x, y0: y, x1: x + 1, y1: y + 1 };
      box.x0 = Math.min(box.x0, x);
      box.y0 = Math.min(box.y0, y);
      box.x1 = Math.max(box.x1, x + 1);
      box.y1 = Math.max(box.y1, y + 1);
    }
  }
  return box;
}

async function render(layout: TextLayout): Promise<OcrCase> {
  const margin = Math.round(layout.size * 1.2);
  const height = 2 * margin + linePitch(layout) * (layout.lines.length - 1) + layout.size;
  // Measure on a generous canvas first, then size the image to the text plus the margin.
  const wide = await inkBox(sharp(svg(layout, 4000, height)));
  if (!wide) throw new Error(`${layout.name}: nothing rendered`);
  const width = wide.x1 + margin;
  const png = await rasterise(layout, svg(layout, width, height))
    .png()
    .toBuffer();
  const lines = await Promise.all(
    layout.lines.map(async (text, i) => {
      const bbox = await inkBox(rasterise(layout, svg(layout, width, height, i)));
      if (!bbox) throw new Error(`${layout.name}: line ${i} rendered no ink`);
      return { text, bbox };
    }),
  );
  return { name: layout.name, png, lines: layout.rotate180 ? lines.reverse() : lines };
}

/** The layouts rendered (by default every OCR case). Lines are listed in reading order of the image as stored. */
export function renderOcrCases(layouts: readonly TextLayout[] = OCR_LAYOUTS): Promise<OcrCase[]> {
  return Promise.all(layouts.map(render));
}
