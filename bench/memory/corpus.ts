/**
 * The hostile corpus: bounded bursts of the largest requests a client may send, each phase with a
 * fixed request count, concurrency and deadline, all to 127.0.0.1. What matters is what the server
 * keeps afterwards, so the replies are only counted by status.
 */
import sharp from 'sharp';

export interface Phase {
  name: string;
  /** Requests in flight at once. */
  concurrency: number;
  /** Requests in all. */
  count: number;
  send: (port: number) => Promise<number>;
}

export interface PhaseResult {
  name: string;
  statuses: Record<string, number>;
  seconds: number;
}

const REQUEST_DEADLINE_MS = 120_000;

async function post(port: number, path: string, body: Buffer | FormData | string, contentType?: string): Promise<number> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, {
      method: 'POST',
      body,
      headers: contentType ? { 'content-type': contentType } : {},
      signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
    });
    await response.arrayBuffer();
    return response.status;
  } catch (err) {
    return (err as Error).name === 'TimeoutError' ? -2 : -1;
  }
}

/** `count` requests, `concurrency` at a time; statuses counted (-1 connection error, -2 client timeout). */
export async function runPhase(phase: Phase, port: number): Promise<PhaseResult> {
  const started = performance.now();
  const statuses: Record<string, number> = {};
  let next = 0;
  const loop = async () => {
    while (next < phase.count) {
      next += 1;
      const status = await phase.send(port);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: phase.concurrency }, loop));
  return { name: phase.name, statuses, seconds: (performance.now() - started) / 1000 };
}

/** An OIP JSON body for MobileNetV2: `batch` images of random floats at full double precision (~20 bytes each). */
function oipJson(batch: number, extraBytes = 0): string {
  const values = new Array<string>(batch * 3 * 224 * 224);
  for (let i = 0; i < values.length; i++) values[i] = String(Math.random());
  const pad = extraBytes > 0 ? `,"parameters":{"pad":"${'x'.repeat(extraBytes)}"}` : '';
  return `{"inputs":[{"name":"input","datatype":"FP32","shape":[${batch},3,224,224],"data":[${values.join(',')}]}]${pad}}`;
}

/** A 16 kHz mono 16-bit WAV of a quiet tone with noise, `seconds` long. */
function wav(seconds: number): Buffer {
  const rate = 16_000;
  const samples = rate * seconds;
  const out = Buffer.alloc(44 + samples * 2);
  out.write('RIFF', 0);
  out.writeUInt32LE(36 + samples * 2, 4);
  out.write('WAVEfmt ', 8);
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20);
  out.writeUInt16LE(1, 22);
  out.writeUInt32LE(rate, 24);
  out.writeUInt32LE(rate * 2, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36);
  out.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) out.writeInt16LE(Math.round(3000 * Math.sin(i / 8) + 500 * (Math.random() - 0.5)), 44 + i * 2);
  return out;
}

async function noiseJpeg(side: number): Promise<Buffer> {
  const raw = Buffer.alloc(side * side * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (Math.random() * 256) | 0;
  return sharp(raw, { raw: { width: side, height: side, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

function form(fields: Record<string, string>, file: Buffer, name: string, type: string): FormData {
  const data = new FormData();
  for (const [key, value] of Object.entries(fields)) data.append(key, value);
  data.append('file', new Blob([file], { type }), name);
  return data;
}

export interface CorpusSizes {
  bodyLimitBytes: number;
  /** Side of the square noise JPEG (pixels). */
  imageSide: number;
  audioSeconds: number;
}

/** Builds the request bodies once (tens of MB each) and returns the phases that send them. */
export async function buildCorpus(sizes: CorpusSizes): Promise<{ phases: Phase[]; described: string[] }> {
  const batchJson = oipJson(16);
  const overLimit = Buffer.alloc(sizes.bodyLimitBytes + 1024 * 1024, 0x20);
  const big = await noiseJpeg(sizes.imageSide);
  const bigBase64 = JSON.stringify({ model: 'mobilenetv2', image: big.toString('base64') });
  const small = await noiseJpeg(224);
  const audio = wav(sizes.audioSeconds);
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  const described = [
    `OIP JSON, 16 images of random doubles: ${mb(batchJson.length)}`,
    `body over the limit: ${mb(overLimit.length)}`,
    `noise JPEG ${sizes.imageSide} x ${sizes.imageSide}: ${mb(big.length)} (base64 JSON ${mb(bigBase64.length)})`,
    `WAV ${sizes.audioSeconds} s at 16 kHz: ${mb(audio.length)}`,
  ];
  const infer = '/v2/models/mobilenetv2/infer';
  const phases: Phase[] = [
    { name: 'OIP JSON near the body limit', concurrency: 4, count: 8, send: (p) => post(p, infer, batchJson, 'application/json') },
    { name: 'OIP body over the limit', concurrency: 8, count: 16, send: (p) => post(p, infer, overLimit, 'application/json') },
    {
      name: 'huge image, base64 JSON',
      concurrency: 6,
      count: 12,
      send: (p) => post(p, '/v1/vision/classify', bigBase64, 'application/json'),
    },
    {
      name: 'huge image, multipart',
      concurrency: 6,
      count: 12,
      send: (p) => post(p, '/v1/vision/classify', form({ model: 'mobilenetv2' }, big, 'big.jpg', 'image/jpeg')),
    },
    {
      name: 'long audio, multipart',
      concurrency: 4,
      count: 4,
      send: (p) => post(p, '/v1/speech/vad', form({ model: 'silero-vad' }, audio, 'long.wav', 'audio/wav')),
    },
    { name: 'long audio, raw body', concurrency: 2, count: 2, send: (p) => post(p, '/v1/speech/vad?model=silero-vad', audio, 'audio/wav') },
    {
      name: 'many small images at once',
      concurrency: 64,
      count: 256,
      send: (p) => post(p, '/v1/vision/classify', form({ model: 'mobilenetv2' }, small, 'small.jpg', 'image/jpeg')),
    },
  ];
  return { phases, described };
}
