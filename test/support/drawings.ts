import sharp from 'sharp';

/** A hand-drawing as strokes (polylines) on a 200 x 200 canvas. */
export type Strokes = Array<Array<[number, number]>>;

/** Symbols drawn as a person would with a mouse: a few strokes, and what they mean. */
export const DRAWINGS: Array<{ name: string; symbol: string; strokes: Strokes }> = [
  {
    name: 'right arrow',
    symbol: '→',
    strokes: [
      [
        [20, 100],
        [180, 100],
      ],
      [
        [140, 65],
        [180, 100],
        [140, 135],
      ],
    ],
  },
  {
    name: 'left arrow',
    symbol: '←',
    strokes: [
      [
        [180, 100],
        [20, 100],
      ],
      [
        [60, 65],
        [20, 100],
        [60, 135],
      ],
    ],
  },
  {
    name: 'up arrow',
    symbol: '↑',
    strokes: [
      [
        [100, 180],
        [100, 20],
      ],
      [
        [65, 60],
        [100, 20],
        [135, 60],
      ],
    ],
  },
  {
    name: 'down arrow',
    symbol: '↓',
    strokes: [
      [
        [100, 20],
        [100, 180],
      ],
      [
        [65, 140],
        [100, 180],
        [135, 140],
      ],
    ],
  },
  {
    name: 'cross',
    symbol: '×',
    strokes: [
      [
        [40, 40],
        [160, 160],
      ],
      [
        [160, 40],
        [40, 160],
      ],
    ],
  },
];

/** Dark strokes on a light background, as a drawing exported from a canvas, in PNG. */
export function drawPng(strokes: Strokes, options: { size?: number; width?: number } = {}): Promise<Buffer> {
  const size = options.size ?? 200;
  const k = size / 200;
  const paths = strokes
    .map(
      (s) =>
        `<polyline points="${s.map(([x, y]) => `${x * k},${y * k}`).join(' ')}" fill="none" stroke="#111" stroke-width="${(options.width ?? 8) * k}" stroke-linecap="round" stroke-linejoin="round"/>`,
    )
    .join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><rect width="100%" height="100%" fill="#fff"/>${paths}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}
