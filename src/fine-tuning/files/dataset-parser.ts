/**
 * Reads a fine-tuning dataset: JSON Lines, one example a line, `{"text" | "image" | "audio": ...,
 * "label": ...}` for classification or `{..., "target": number | number[]}` for regression.
 * Pure: the upload route computes the validation report with it, the job runner the examples.
 */
import { createHash } from 'node:crypto';
import { sniffMedia } from './media-sniff.js';

export type InputKind = 'text' | 'image' | 'audio';
export type DatasetTask = 'classification' | 'regression';

export interface Example {
  line: number;
  kind: InputKind;
  /** The text, or the media as base64. */
  input: string;
  label?: string;
  target?: number[];
}

export interface LineProblem {
  /** 1-based line number; absent for problems of the whole file. */
  line?: number;
  message: string;
}

/** Lathe's extension of OpenAI's file object: what a job would learn from, and what is wrong with it. */
export interface ValidationReport {
  valid: boolean;
  task: DatasetTask | null;
  input_kind: InputKind | null;
  /** Non-blank lines. */
  lines: number;
  /** Lines that are usable examples. */
  examples: number;
  error_count: number;
  /** The first MAX_LISTED errors, in line order; file-level problems last. */
  errors: LineProblem[];
  warnings: LineProblem[];
  /** Examples per label, labels sorted; classification only. */
  labels: Record<string, number> | null;
  classes: number | null;
  /** Length of each target; regression only. */
  target_dim: number | null;
  duplicates: { count: number; conflicting: number; lines: Array<{ line: number; first_line: number }> };
  imbalance: { majority: string; majority_count: number; minority: string; minority_count: number; ratio: number } | null;
}

export type ParseResult =
  { jsonl: true; report: ValidationReport; examples: Example[] } | { jsonl: false; errors: LineProblem[]; error_count: number };

export const MAX_LISTED = 100;
export const MAX_TEXT_CHARS = 100_000;
/** Majority / minority above this is reported as imbalance. */
export const IMBALANCE_WARNING_RATIO = 10;
const INPUT_KEYS: readonly InputKind[] = ['text', 'image', 'audio'];
const KNOWN_KEYS = new Set<string>([...INPUT_KEYS, 'label', 'target']);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

interface Candidate {
  line: number;
  kind?: InputKind;
  input?: string;
  label?: string;
  target?: number[];
  problems: string[];
}

export function parseDataset(bytes: Uint8Array): ParseResult {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { jsonl: false, errors: [{ message: 'the file is not UTF-8 text' }], error_count: 1 };
  }
  if (text.includes('\u0000'))
    return { jsonl: false, errors: [{ message: 'the file is binary (it holds NUL bytes), not JSON Lines' }], error_count: 1 };
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  const candidates: Candidate[] = [];
  let parsedAny = false;
  lines.forEach((raw, i) => {
    const source = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (source.trim() === '') return;
    const c = readLine(source, i + 1);
    if (!c.problems.some((p) => p.startsWith('not valid JSON'))) parsedAny = true;
    candidates.push(c);
  });
  if (candidates.length > 0 && !parsedAny) {
    const errors = candidates.map((c) => ({ line: c.line, message: c.problems[0]! }));
    return { jsonl: false, errors: errors.slice(0, MAX_LISTED), error_count: errors.length };
  }
  return { jsonl: true, ...summarise(candidates) };
}

function readLine(source: string, line: number): Candidate {
  const c: Candidate = { line, problems: [] };
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (err) {
    c.problems.push(`not valid JSON: ${(err as Error).message}`);
    return c;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    c.problems.push('a line must be a JSON object like {"text": "...", "label": "..."}');
    return c;
  }
  if (holdsNul(value)) {
    // Its report (labels, field names) is stored as jsonb, which cannot hold U+0000.
    c.problems.push('a key or a string holds U+0000 (NUL)');
    return c;
  }
  const record = value as Record<string, unknown>;
  if ('messages' in record) c.problems.push('chat-format lines ("messages") are not supported: use {"text": ..., "label": ...}');
  for (const key of Object.keys(record))
    if (!KNOWN_KEYS.has(key) && key !== 'messages')
      c.problems.push(`unknown field "${key}" (expected text, image or audio, and label or target)`);
  readInput(record, c);
  readAnswer(record, c);
  return c;
}

function holdsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([k, v]) => k.includes('\u0000') || holdsNul(v));
}

function readInput(record: Record<string, unknown>, c: Candidate): void {
  const present = INPUT_KEYS.filter((k) => k in record);
  if (present.length === 0) return void c.problems.push('missing input: one of "text", "image" (base64) or "audio" (base64)');
  if (present.length > 1) return void c.problems.push(`one input per line; this one has ${present.map((k) => `"${k}"`).join(' and ')}`);
  const kind = present[0]!;
  const value = record[kind];
  if (typeof value !== 'string' || value.length === 0) return void c.problems.push(`"${kind}" must be a non-empty string`);
  c.kind = kind;
  if (kind === 'text') {
    if (value.trim() === '') c.problems.push('"text" is only whitespace');
    else if (value.length > MAX_TEXT_CHARS) c.problems.push(`"text" has ${value.length} characters; at most ${MAX_TEXT_CHARS}`);
    else if (LONE_SURROGATE.test(value)) c.problems.push('"text" has an unpaired UTF-16 surrogate');
    else c.input = value;
    return;
  }
  const body = value.startsWith('data:') ? value.slice(value.indexOf(',') + 1) : value;
  if (!BASE64.test(body) || body.length % 4 === 1) return void c.problems.push(`"${kind}" is not valid base64`);
  const problem = sniffMedia(kind, Buffer.from(body, 'base64'));
  if (problem) return void c.problems.push(`"${kind}" ${problem}`);
  c.input = body;
}

function readAnswer(record: Record<string, unknown>, c: Candidate): void {
  const hasLabel = 'label' in record;
  const hasTarget = 'target' in record;
  if (hasLabel && hasTarget) return void c.problems.push('a line has "label" (classification) or "target" (regression), not both');
  if (!hasLabel && !hasTarget) return void c.problems.push('missing "label" (classification) or "target" (regression)');
  if (hasLabel) {
    const label = record.label;
    if (typeof label === 'string' && label.trim() !== '' && label.length <= 200) c.label = label;
    else if (typeof label === 'number' && Number.isInteger(label)) c.label = String(label);
    else if (typeof label === 'boolean') c.label = String(label);
    else c.problems.push('"label" must be a non-empty string (at most 200 characters), an integer or a boolean');
    return;
  }
  const target = record.target;
  const values = typeof target === 'number' ? [target] : target;
  if (
    !Array.isArray(values) ||
    values.length === 0 ||
    values.length > 4096 ||
    !values.every((v) => typeof v === 'number' && Number.isFinite(v))
  ) {
    return void c.problems.push('"target" must be a finite number or a non-empty list of at most 4096 finite numbers');
  }
  c.target = values as number[];
}

/** The most common item; the first seen on ties. */
function majority<T>(items: readonly T[]): T | undefined {
  const counts = new Map<T, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  let best: T | undefined;
  for (const [item, n] of counts) if (best === undefined || n > counts.get(best)!) best = item;
  return best;
}

function summarise(candidates: Candidate[]): { report: ValidationReport; examples: Example[] } {
  const kind = majority(candidates.flatMap((c) => (c.kind ? [c.kind] : [])));
  const task = majority(
    candidates.flatMap((c) => (c.label !== undefined ? ['classification' as const] : c.target ? ['regression' as const] : [])),
  );
  const targetDim = task === 'regression' ? majority(candidates.flatMap((c) => (c.target ? [c.target.length] : []))) : undefined;
  for (const c of candidates) {
    if (c.kind && kind && c.kind !== kind) c.problems.push(`input is "${c.kind}" but the file's inputs are "${kind}"`);
    if (task === 'classification' && c.target) c.problems.push('has a "target" but the file is labelled for classification');
    if (task === 'regression' && c.label !== undefined) c.problems.push('has a "label" but the file has regression targets');
    if (c.target && targetDim !== undefined && c.target.length !== targetDim)
      c.problems.push(`"target" has ${c.target.length} values; the file's targets have ${targetDim}`);
  }
  const good = candidates.filter((c) => c.problems.length === 0 && c.input !== undefined);
  const examples: Example[] = good.map((c) => ({ line: c.line, kind: c.kind!, input: c.input!, label: c.label, target: c.target }));
  const lineErrors = candidates.flatMap((c) => c.problems.map((message) => ({ line: c.line, message })));
  const fileErrors: LineProblem[] = [];
  const warnings: LineProblem[] = [];
  if (examples.length === 0)
    fileErrors.push({ message: candidates.length === 0 ? 'the file has no examples (it is empty)' : 'the file has no usable examples' });
  const labels = task === 'classification' ? countLabels(examples) : null;
  const classes = labels ? Object.keys(labels).length : null;
  if (classes === 1)
    fileErrors.push({ message: `every example has the label "${Object.keys(labels!)[0]}"; classification needs at least two classes` });
  const imbalance = labels && classes! >= 2 ? imbalanceOf(labels) : null;
  if (imbalance && imbalance.ratio > IMBALANCE_WARNING_RATIO) {
    warnings.push({
      message: `classes are imbalanced: "${imbalance.majority}" has ${imbalance.majority_count} examples, "${imbalance.minority}" ${imbalance.minority_count}`,
    });
  }
  const duplicates = findDuplicates(examples);
  if (duplicates.count > 0)
    warnings.push({
      message: `${duplicates.count} example(s) repeat an earlier input${duplicates.conflicting ? `, ${duplicates.conflicting} with a different answer` : ''}`,
    });
  const errors = [...lineErrors, ...fileErrors];
  return {
    examples,
    report: {
      valid: errors.length === 0,
      task: task ?? null,
      input_kind: kind ?? null,
      lines: candidates.length,
      examples: examples.length,
      error_count: errors.length,
      errors: [...lineErrors.slice(0, MAX_LISTED - fileErrors.length), ...fileErrors],
      warnings,
      labels,
      classes,
      target_dim: targetDim ?? null,
      duplicates,
      imbalance,
    },
  };
}

function countLabels(examples: readonly Example[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of examples) counts[e.label!] = (counts[e.label!] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function imbalanceOf(labels: Record<string, number>): ValidationReport['imbalance'] {
  const entries = Object.entries(labels);
  const [majority, majorityCount] = entries.reduce((best, e) => (e[1] > best[1] ? e : best));
  const [minority, minorityCount] = entries.reduce((best, e) => (e[1] < best[1] ? e : best));
  return {
    majority,
    majority_count: majorityCount,
    minority,
    minority_count: minorityCount,
    ratio: Math.round((majorityCount / minorityCount) * 100) / 100,
  };
}

function findDuplicates(examples: readonly Example[]): ValidationReport['duplicates'] {
  const seen = new Map<string, Example>();
  const lines: Array<{ line: number; first_line: number }> = [];
  let conflicting = 0;
  for (const e of examples) {
    const key = createHash('sha256').update(e.kind).update('\u0000').update(e.input).digest('hex');
    const first = seen.get(key);
    if (!first) {
      seen.set(key, e);
      continue;
    }
    lines.push({ line: e.line, first_line: first.line });
    if (first.label !== e.label || JSON.stringify(first.target) !== JSON.stringify(e.target)) conflicting += 1;
  }
  return { count: lines.length, conflicting, lines: lines.slice(0, MAX_LISTED) };
}

/** The label map a classification job trains with: the training file's labels, sorted. */
export function labelMap(report: ValidationReport): string[] {
  return Object.keys(report.labels ?? {});
}
