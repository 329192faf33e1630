/** Datasets and helpers for the fine-tuning suites. */
import type { Server } from 'node:http';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { createApp } from '../../src/app.setup.js';
import { loadConfig } from '../../src/config/app-config.js';
import { waitFor } from './processes.js';

/** A small deterministic generator, so every run writes the same datasets. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const pick = <T>(next: () => number, items: readonly T[]): T => items[Math.floor(next() * items.length)]!;

/** Three topics, several templates each, with varied words GloVe knows (lower case, no punctuation). */
const TOPICS: Record<string, { templates: string[]; words: Record<string, string[]> }> = {
  animals: {
    templates: [
      'the {adj} {animal} {verb} in the {place}',
      'a {animal} and a {animal} {verb} near the {place}',
      'my {animal} likes to {act} every morning',
      'we saw a {adj} {animal} at the {place} today',
    ],
    words: {
      adj: ['small', 'big', 'young', 'old', 'wild', 'hungry', 'brown', 'white', 'lazy', 'quick'],
      animal: [
        'dog',
        'cat',
        'horse',
        'lion',
        'tiger',
        'elephant',
        'bird',
        'rabbit',
        'wolf',
        'bear',
        'fox',
        'deer',
        'cow',
        'sheep',
        'monkey',
        'duck',
      ],
      verb: ['runs', 'sleeps', 'eats', 'hunts', 'plays', 'jumps', 'hides', 'swims', 'rests', 'walks'],
      act: ['run', 'sleep', 'eat', 'play', 'swim', 'hunt', 'climb', 'bark'],
      place: ['forest', 'field', 'zoo', 'farm', 'jungle', 'garden', 'river', 'barn', 'meadow', 'woods'],
    },
  },
  finance: {
    templates: [
      'the {company} reported higher {noun} as {market} {move}',
      'investors expect {noun} to {change} next quarter',
      'shares of the {company} {move} after the {event}',
      'the central bank raised {noun} to fight {problem}',
    ],
    words: {
      company: ['bank', 'company', 'firm', 'insurer', 'retailer', 'lender', 'corporation', 'fund'],
      noun: ['profit', 'revenue', 'earnings', 'dividends', 'interest rates', 'bond yields', 'sales', 'margins', 'costs', 'prices'],
      market: ['stocks', 'markets', 'bonds', 'shares', 'currencies', 'futures'],
      move: ['rose', 'fell', 'rallied', 'slumped', 'climbed', 'dropped', 'gained', 'declined'],
      change: ['rise', 'fall', 'grow', 'shrink', 'recover', 'decline'],
      event: ['merger', 'earnings report', 'acquisition', 'audit', 'stock split', 'rate decision'],
      problem: ['inflation', 'debt', 'unemployment', 'deficits', 'recession'],
    },
  },
  weather: {
    templates: [
      '{time} will be {adj} with {noun} in the {region}',
      'the forecast calls for {noun} and {noun} {time}',
      'temperatures will {change} to {num} degrees {time}',
      'expect {adj} skies and strong {wind} across the {region}',
    ],
    words: {
      time: ['tomorrow', 'tonight', 'this weekend', 'on monday', 'this afternoon', 'later today', 'next week'],
      adj: ['sunny', 'cloudy', 'rainy', 'windy', 'cold', 'warm', 'humid', 'foggy', 'stormy', 'clear'],
      noun: ['rain', 'snow', 'showers', 'thunderstorms', 'fog', 'hail', 'sleet', 'drizzle', 'frost', 'sunshine'],
      region: ['north', 'south', 'coast', 'mountains', 'valley', 'east', 'west', 'plains'],
      change: ['drop', 'rise', 'fall', 'climb'],
      num: ['five', 'ten', 'twenty', 'thirty', 'forty'],
      wind: ['winds', 'gusts', 'breezes'],
    },
  },
};

/** `perClass` sentences per topic, interleaved, as {text, label}. */
export function topicExamples(perClass: number, seed = 1): Array<{ text: string; label: string }> {
  const next = lcg(seed);
  const out: Array<{ text: string; label: string }> = [];
  for (let i = 0; i < perClass; i += 1) {
    for (const [label, topic] of Object.entries(TOPICS)) {
      const text = pick(next, topic.templates).replace(/\{(\w+)\}/g, (_, slot: string) => pick(next, topic.words[slot]!));
      out.push({ text, label });
    }
  }
  return out;
}

export function jsonl(lines: readonly unknown[]): Buffer {
  return Buffer.from(lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
}

export interface FileBody {
  id: string;
  status: string;
  validation: {
    valid: boolean;
    errors: Array<{ line?: number; message: string }>;
    examples: number;
    labels: Record<string, number> | null;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export async function uploadFile(
  server: Server,
  content: Buffer,
  filename = 'data.jsonl',
  purpose = 'fine-tune',
): Promise<request.Response> {
  return request(server)
    .post('/v1/files')
    .field('purpose', purpose)
    .attach('file', content, { filename, contentType: 'application/jsonl' });
}

export interface JobBody {
  id: string;
  status: string;
  fine_tuned_model: string | null;
  error: { code: string; message: string } | null;
  metrics: { valid_accuracy?: number; [k: string]: unknown } | null;
  [k: string]: unknown;
}

export async function getJob(server: Server, id: string): Promise<JobBody> {
  const res = await request(server).get(`/v1/fine_tuning/jobs/${id}`);
  if (res.status !== 200) throw new Error(`GET job ${id}: ${res.status} ${res.text}`);
  return res.body as JobBody;
}

/** Polls until the job reaches one of `statuses`. */
export function waitForStatus(server: Server, id: string, statuses: readonly string[], timeoutMs: number): Promise<JobBody> {
  return waitFor(
    async () => {
      const job = await getJob(server, id);
      return statuses.includes(job.status) ? job : undefined;
    },
    timeoutMs,
    `job ${id} to be ${statuses.join(' or ')}`,
  );
}

export async function eventMessages(server: Server, id: string): Promise<string[]> {
  const res = await request(server).get(`/v1/fine_tuning/jobs/${id}/events?limit=1000`);
  return (res.body as { data: Array<{ message: string }> }).data.map((e) => e.message).reverse();
}

/** Another replica on an existing test database (the database is not dropped when it closes). */
export async function startReplica(databaseUrl: string): Promise<{ app: NestFastifyApplication; server: Server; close(): Promise<void> }> {
  const app = await createApp(loadConfig({ LOG_LEVEL: 'silent', DATABASE_URL: databaseUrl }));
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return { app, server: app.getHttpServer(), close: () => app.close() };
}

/** One Server-Sent Events frame: its fields (a keep-alive comment has none but `comment`). */
export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  retry?: string;
  comment?: string;
}

/** Splits a Server-Sent Events body into frames, as an EventSource reads it (one value per field here). */
export function parseEventStream(text: string): SseFrame[] {
  return text
    .split('\n\n')
    .filter(Boolean)
    .map((block) => {
      const frame: SseFrame = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) frame.comment = line.slice(1).trim();
        else {
          const at = line.indexOf(':');
          const field = line.slice(0, at) as keyof SseFrame;
          frame[field] = line.slice(at + 1).replace(/^ /, '');
        }
      }
      return frame;
    });
}

/** The frames that carry data, as `{id, data}`; the first frame (`retry`) and keep-alives left out. */
export function dataFrames(text: string): Array<{ id?: string; data: string }> {
  return parseEventStream(text)
    .filter((f) => f.data !== undefined)
    .map((f) => (f.id === undefined ? { data: f.data! } : { id: f.id, data: f.data! }));
}

/** The whole body of a Server-Sent Events response, read until the server ends it. */
export async function readEventStream(
  server: Server,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; contentType: string; text: string }> {
  const res = await request(server)
    .get(path)
    .set(headers)
    .buffer(true)
    .parse((r, cb) => {
      let text = '';
      r.setEncoding('utf8').on('data', (c: string) => (text += c));
      r.on('end', () => cb(null, text));
    });
  return {
    status: res.status,
    contentType: String(res.headers['content-type']),
    text: res.body as string,
  };
}
