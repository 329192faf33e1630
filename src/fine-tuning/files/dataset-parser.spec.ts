import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDataset } from './dataset-parser.js';

const file = (...lines: unknown[]) => Buffer.from(lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'));
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
).toString('base64');

describe('parseDataset', () => {
  it('is not JSON Lines when no line parses, or the bytes are not UTF-8 text', () => {
    for (const bytes of [Buffer.from('a,b\nc,d\n'), Buffer.from([0xff, 0xfe, 0x00]), Buffer.from('{"a": 1}\u0000')]) {
      assert.equal(parseDataset(bytes).jsonl, false, bytes.toString('latin1'));
    }
  });

  const cases: Array<{
    name: string;
    lines: unknown[];
    errors: Array<{ line?: number; message: string }>;
    task?: string;
    examples: number;
  }> = [
    {
      name: 'a valid classification file',
      lines: [
        { text: 'a', label: 'x' },
        { text: 'b', label: 'y' },
      ],
      errors: [],
      task: 'classification',
      examples: 2,
    },
    {
      name: 'labels may be integers or booleans',
      lines: [
        { text: 'a', label: 1 },
        { text: 'b', label: false },
      ],
      errors: [],
      task: 'classification',
      examples: 2,
    },
    {
      name: 'regression with vector targets',
      lines: [
        { text: 'a', target: [1, 2] },
        { text: 'b', target: [0, 1] },
      ],
      errors: [],
      task: 'regression',
      examples: 2,
    },
    {
      name: 'blank lines and CRLF are fine',
      lines: ['{"text":"a","label":"x"}\r', '', '{"text":"b","label":"y"}'],
      errors: [],
      task: 'classification',
      examples: 2,
    },
    {
      name: 'one class',
      lines: [
        { text: 'a', label: 'x' },
        { text: 'b', label: 'x' },
      ],
      errors: [{ message: 'every example has the label "x"; classification needs at least two classes' }],
      task: 'classification',
      examples: 2,
    },
    { name: 'empty', lines: [''], errors: [{ message: 'the file has no examples (it is empty)' }], examples: 0 },
    {
      name: 'mixed tasks: the minority is wrong',
      lines: [
        { text: 'a', label: 'x' },
        { text: 'b', label: 'y' },
        { text: 'c', target: 1 },
      ],
      errors: [{ line: 3, message: 'has a "target" but the file is labelled for classification' }],
      task: 'classification',
      examples: 2,
    },
    {
      name: 'target lengths must agree',
      lines: [
        { text: 'a', target: [1, 2] },
        { text: 'b', target: [1, 2] },
        { text: 'c', target: [1] },
      ],
      errors: [{ line: 3, message: '"target" has 1 values; the file\'s targets have 2' }],
      task: 'regression',
      examples: 2,
    },
    {
      name: 'bad fields',
      lines: [
        { text: 'a', label: 'x', target: 1 },
        { text: 'b', label: '' },
        { text: 'c', target: 'high' },
        { label: 'x' },
        { text: 'd', image: PNG, label: 'y' },
        { messages: [], label: 'x' },
        [1, 2],
      ],
      errors: [
        { line: 1, message: 'a line has "label" (classification) or "target" (regression), not both' },
        { line: 2, message: '"label" must be a non-empty string (at most 200 characters), an integer or a boolean' },
        { line: 3, message: '"target" must be a finite number or a non-empty list of at most 4096 finite numbers' },
        { line: 4, message: 'missing input: one of "text", "image" (base64) or "audio" (base64)' },
        { line: 5, message: 'one input per line; this one has "text" and "image"' },
        { line: 6, message: 'chat-format lines ("messages") are not supported: use {"text": ..., "label": ...}' },
        { line: 6, message: 'missing input: one of "text", "image" (base64) or "audio" (base64)' },
        { line: 7, message: 'a line must be a JSON object like {"text": "...", "label": "..."}' },
        { message: 'the file has no usable examples' },
      ],
      task: 'classification',
      examples: 0,
    },
    {
      name: 'images: real ones pass, text does not',
      lines: [
        { image: PNG, label: 'x' },
        { image: `data:image/png;base64,${PNG}`, label: 'y' },
        { image: Buffer.from('not an image at all').toString('base64'), label: 'x' },
        { image: '***', label: 'x' },
      ],
      errors: [
        { line: 3, message: '"image" does not decode as an image: not PNG, JPEG, GIF, WebP, BMP, TIFF' },
        { line: 4, message: '"image" is not valid base64' },
      ],
      task: 'classification',
      examples: 2,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = parseDataset(file(...c.lines));
      assert.ok(result.jsonl);
      assert.deepEqual(result.report.errors, c.errors);
      assert.equal(result.report.valid, c.errors.length === 0);
      assert.equal(result.report.task, c.task ?? null);
      assert.equal(result.report.examples, c.examples);
    });
  }

  it('counts labels, duplicates and imbalance', () => {
    const lines = [
      ...Array.from({ length: 22 }, (_, i) => ({ text: `t${i}`, label: 'big' })),
      { text: 'u', label: 'small' },
      { text: 't0', label: 'small' },
    ];
    const result = parseDataset(file(...lines));
    assert.ok(result.jsonl);
    assert.deepEqual(result.report.labels, { big: 22, small: 2 });
    assert.deepEqual(result.report.duplicates, { count: 1, conflicting: 1, lines: [{ line: 24, first_line: 1 }] });
    assert.deepEqual(result.report.imbalance, { majority: 'big', majority_count: 22, minority: 'small', minority_count: 2, ratio: 11 });
    assert.deepEqual(
      result.report.warnings.map((w) => w.message),
      ['classes are imbalanced: "big" has 22 examples, "small" 2', '1 example(s) repeat an earlier input, 1 with a different answer'],
    );
  });
});
