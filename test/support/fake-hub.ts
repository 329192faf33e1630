import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import onnxProto from 'onnx-proto';
import { encodeModel, modelProto, tensor } from '../../src/onnx/onnx-builder.js';

/**
 * A Hugging Face Hub on 127.0.0.1 with the real Hub's URL shapes and headers, for `lathe models
 * pull` tests: `GET /api/models/{repo}/revision/{rev}[?blobs=true]`, `/{repo}/resolve/{rev}/{path}`
 * answering 302 to a "CDN" for LFS files (X-Repo-Commit, X-Linked-Etag, X-Linked-Size), byte
 * ranges, the Hub's X-Error-Code answers, and injected faults.
 */

export interface FakeFile {
  path: string;
  content: Buffer;
  /** Default: ONNX weights and external data are LFS files, everything else is a plain git blob. */
  lfs?: boolean;
}

export interface FakeRepo {
  id: string;
  files: FakeFile[];
  /** Default a random 40-hex commit, which `main` points at. */
  commit?: string;
  cardData?: Record<string, unknown>;
  /** Needs the hub's token (401 RepoNotFound without it, as the Hub hides private repos). */
  private?: boolean;
  /** Listing is public; files need the token (401 / 403 GatedRepo). */
  gated?: boolean;
  /** Rewrites the `siblings` the listing answers: a hostile or broken mirror. */
  listing?: (siblings: Array<Record<string, unknown>>) => unknown[];
}

export type Fault =
  /** Sends half of what was asked, then closes the connection, `times` times (default once). */
  | { kind: 'drop'; path: string; times?: number }
  /** Flips one byte in the middle of every response for the file. */
  | { kind: 'corrupt'; path: string };

export interface RecordedRequest {
  /** `hub` or `cdn` (the same server unless the hub was started with `separateCdn`). */
  server: 'hub' | 'cdn';
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  status: number;
  /** Body bytes written before the response ended or was cut. */
  bodyBytes: number;
}

interface StoredFile extends FakeFile {
  lfs: boolean;
  sha256: string;
  gitOid: string;
}

interface StoredRepo extends FakeRepo {
  commit: string;
  stored: Map<string, StoredFile>;
}

export interface FakeHubOptions {
  /** The one token the hub accepts. */
  token?: string;
  /** Serve LFS content from a second origin (another port), like the Hub's real CDN. */
  separateCdn?: boolean;
}

export class FakeHub {
  readonly requests: RecordedRequest[] = [];
  faults: Fault[] = [];
  private readonly repos = new Map<string, StoredRepo>();
  private readonly servers: Server[] = [];
  private hubOrigin = '';
  private cdnOrigin = '';

  private constructor(private readonly options: FakeHubOptions) {}

  static async start(repos: FakeRepo[], options: FakeHubOptions = {}): Promise<FakeHub> {
    const hub = new FakeHub(options);
    for (const repo of repos) hub.add(repo);
    hub.hubOrigin = await hub.listen('hub');
    hub.cdnOrigin = options.separateCdn ? await hub.listen('cdn') : hub.hubOrigin;
    return hub;
  }

  /** What HF_ENDPOINT should be. */
  get endpoint(): string {
    return this.hubOrigin;
  }

  get cdn(): string {
    return this.cdnOrigin;
  }

  add(repo: FakeRepo): StoredRepo {
    const stored = new Map(repo.files.map((f) => [f.path, describe(f)]));
    const entry = { ...repo, commit: repo.commit ?? randomBytes(20).toString('hex'), stored };
    this.repos.set(repo.id, entry);
    return entry;
  }

  commitOf(id: string): string {
    return this.repos.get(id)!.commit;
  }

  /** sha256 of a served file, as the Hub lists it for LFS files. */
  sha256Of(id: string, path: string): string {
    return this.repos.get(id)!.stored.get(path)!.sha256;
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
  }

  private listen(role: 'hub' | 'cdn'): Promise<string> {
    const server = createServer((req, res) => this.handle(role, req, res));
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
    });
  }

  private handle(role: 'hub' | 'cdn', req: IncomingMessage, res: ServerResponse): void {
    const record: RecordedRequest = {
      server: role,
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      status: 0,
      bodyBytes: 0,
    };
    this.requests.push(record);
    const originalWrite = res.write.bind(res);
    res.write = ((chunk: Buffer, ...rest: never[]) => {
      record.bodyBytes += chunk.length;
      return originalWrite(chunk, ...rest);
    }) as typeof res.write;
    res.once('finish', () => void (record.status = res.statusCode));
    res.once('close', () => void (record.status ||= res.statusCode));
    const url = new URL(req.url ?? '/', 'http://hub');
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
    if (cdn) return this.serveCdn(cdn[1]!, req, res);
    if (role === 'cdn') return error(res, 404, undefined, 'NoSuchKey');
    const api = /^\/api\/models\/(.+)\/revision\/([^/]+)$/.exec(url.pathname);
    if (api)
      return this.serveInfo(decodeURIComponent(api[1]!), decodeURIComponent(api[2]!), url.searchParams.get('blobs') === 'true', req, res);
    const resolve = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (resolve) return this.serveResolve(resolve[1]!, decodeURIComponent(resolve[2]!), decodeURIComponent(resolve[3]!), req, res);
    error(res, 404, undefined, 'Not Found');
  }

  /** The Hub's auth answers: unknown and private repos look the same to a stranger. */
  private access(repo: StoredRepo | undefined, req: IncomingMessage, res: ServerResponse, forFile: boolean): repo is StoredRepo {
    const auth = req.headers.authorization;
    const authorized = auth !== undefined && auth === `Bearer ${this.options.token}`;
    if (auth !== undefined && !authorized) {
      error(res, 401, undefined, 'Invalid credentials in Authorization header');
      return false;
    }
    if (!repo || (repo.private && !authorized)) {
      error(res, auth ? 404 : 401, 'RepoNotFound', 'Repository not found');
      return false;
    }
    if (forFile && repo.gated && !authorized) {
      error(res, 401, 'GatedRepo', 'Access to model is restricted. You must have access to it and be authenticated to access it.');
      return false;
    }
    return true;
  }

  private serveInfo(id: string, revision: string, blobs: boolean, req: IncomingMessage, res: ServerResponse): void {
    const repo = this.repos.get(id);
    if (!this.access(repo, req, res, false)) return;
    if (revision !== 'main' && revision !== repo.commit) return error(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
    const siblings: Array<Record<string, unknown>> = [...repo.stored.values()].map((f) =>
      blobs
        ? {
            rfilename: f.path,
            blobId: f.lfs ? gitOid(lfsPointer(f)) : f.gitOid,
            size: f.content.length,
            ...(f.lfs ? { lfs: { sha256: f.sha256, size: f.content.length, pointerSize: lfsPointer(f).length } } : {}),
          }
        : { rfilename: f.path },
    );
    const body = {
      _id: createHash('md5').update(id).digest('hex').slice(0, 24),
      id,
      modelId: id,
      author: id.split('/')[0],
      sha: repo.commit,
      lastModified: '2025-01-01T00:00:00.000Z',
      private: repo.private === true,
      gated: repo.gated ? 'auto' : false,
      disabled: false,
      library_name: 'transformers.js',
      tags: ['transformers.js', 'onnx'],
      cardData: repo.cardData,
      siblings: repo.listing ? repo.listing(siblings) : siblings,
      createdAt: '2024-01-01T00:00:00.000Z',
    };
    json(res, 200, body);
  }

  private serveResolve(id: string, revision: string, path: string, req: IncomingMessage, res: ServerResponse): void {
    const repo = this.repos.get(id);
    if (!this.access(repo, req, res, true)) return;
    if (revision !== 'main' && revision !== repo.commit) return error(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
    const file = repo.stored.get(path);
    if (!file) return error(res, 404, 'EntryNotFound', `${path} does not exist on "${revision}"`);
    res.setHeader('x-repo-commit', repo.commit);
    if (file.lfs) {
      res.writeHead(302, {
        location: `${this.cdnOrigin}/cdn/${file.sha256}`,
        etag: `"${file.sha256}"`,
        'x-linked-etag': `"${file.sha256}"`,
        'x-linked-size': String(file.content.length),
        'content-length': '0',
      });
      res.end();
      return;
    }
    this.serveBytes(file, req, res, file.gitOid);
  }

  private serveCdn(sha256: string, req: IncomingMessage, res: ServerResponse): void {
    for (const repo of this.repos.values()) {
      for (const file of repo.stored.values()) if (file.sha256 === sha256 && file.lfs) return this.serveBytes(file, req, res, sha256);
    }
    error(res, 404, undefined, 'NoSuchKey');
  }

  /** A file with `Range` support and whatever fault is set for it. */
  private serveBytes(file: StoredFile, req: IncomingMessage, res: ServerResponse, etag: string): void {
    const size = file.content.length;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    let start = 0;
    let end = size - 1;
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size) {
        res.writeHead(416, { 'content-range': `bytes */${size}` });
        res.end();
        return;
      }
    }
    let body = file.content.subarray(start, end + 1);
    if (this.faults.some((f) => f.kind === 'corrupt' && f.path === file.path)) {
      body = Buffer.from(body);
      body[Math.floor(body.length / 2)]! ^= 0xff;
    }
    res.writeHead(range ? 206 : 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      'accept-ranges': 'bytes',
      etag: `"${etag}"`,
      ...(range ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
    });
    const drop = this.faults.find(
      (f): f is Extract<Fault, { kind: 'drop' }> => f.kind === 'drop' && f.path === file.path && (f.times ?? 1) > 0,
    );
    if (!drop) {
      res.write(body);
      res.end();
      return;
    }
    drop.times = (drop.times ?? 1) - 1;
    // Half the bytes reach the client before the connection goes: a mid-file network failure.
    res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
  }
}

function describe(f: FakeFile): StoredFile {
  return {
    ...f,
    lfs: f.lfs ?? /\.onnx(_data(_\d+)?)?$/.test(f.path),
    sha256: createHash('sha256').update(f.content).digest('hex'),
    gitOid: gitOid(f.content),
  };
}

function gitOid(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

/** What git stores for an LFS file; its blob id is what the Hub lists as `blobId`. */
function lfsPointer(f: StoredFile): Buffer {
  return Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${f.sha256}\nsize ${f.content.length}\n`);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(text.length) });
  res.end(text);
}

function error(res: ServerResponse, status: number, code: string | undefined, message: string): void {
  if (code) res.setHeader('x-error-code', code);
  res.setHeader('x-error-message', message);
  json(res, status, { error: message });
}

/** Hidden width of the tiny classifier: enough weights (256 kB) that a download spans many chunks. */
export const TINY_HIDDEN = 8192;

/** Small integers, so float32 sums are exact and outputs can be compared with `===`. */
const w1 = (i: number, j: number) => ((i * 7 + j * 3) % 5) - 2;
const w2 = (j: number, k: number) => ((j * 5 + k * 11) % 3) - 1;

/** relu(x · W1) · W2 for rows of 4 inputs, computed without ONNX Runtime: what the server must answer. */
export function tinyClassifierOutput(rows: number[][]): number[] {
  return rows.flatMap((x) => {
    const out = [0, 0];
    for (let j = 0; j < TINY_HIDDEN; j += 1) {
      const h = Math.max(
        0,
        x.reduce((sum, xi, i) => sum + xi * w1(i, j), 0),
      );
      for (let k = 0; k < 2; k += 1) out[k]! += h * w2(j, k);
    }
    return out;
  });
}

/**
 * A Transformers.js-layout repository: config and tokenizer files, README and .gitattributes (not
 * pulled), `onnx/model.onnx` (fp32, weights inline) and `onnx/model_quantized.onnx` (q8 in name
 * only) whose weights sit in `onnx/model_quantized.onnx_data` as ONNX external data.
 */
export function tinyClassifierRepo(id: string): FakeRepo {
  const W1 = new Float32Array(4 * TINY_HIDDEN).map((_, n) => w1(Math.floor(n / TINY_HIDDEN), n % TINY_HIDDEN));
  const W2 = new Float32Array(TINY_HIDDEN * 2).map((_, n) => w2(Math.floor(n / 2), n % 2));
  const spec = {
    graphName: 'tiny-classifier',
    inputs: [{ name: 'x', type: 'float32' as const, dims: ['batch_size', 4] }],
    outputs: [{ name: 'y', type: 'float32' as const, dims: ['batch_size', 2] }],
    initializers: [tensor('w1', W1, [4, TINY_HIDDEN]), tensor('w2', W2, [TINY_HIDDEN, 2])],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'w1'], outputs: ['h'] },
      { op: 'Relu', inputs: ['h'], outputs: ['r'] },
      { op: 'MatMul', inputs: ['r', 'w2'], outputs: ['y'] },
    ],
  };
  const proto = modelProto(spec);
  const external = Buffer.concat([Buffer.from(W1.buffer), Buffer.from(W2.buffer)]);
  const { onnx } = onnxProto;
  proto.graph!.initializer = proto.graph!.initializer!.map((t, i) => ({
    name: t.name,
    dataType: t.dataType,
    dims: t.dims,
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: 'model_quantized.onnx_data' },
      { key: 'offset', value: String(i === 0 ? 0 : W1.byteLength) },
      { key: 'length', value: String(i === 0 ? W1.byteLength : W2.byteLength) },
    ],
  }));
  const text = (value: unknown) => Buffer.from(JSON.stringify(value, null, 2));
  return {
    id,
    cardData: { license: 'apache-2.0', library_name: 'transformers.js' },
    files: [
      { path: '.gitattributes', content: Buffer.from('*.onnx filter=lfs diff=lfs merge=lfs -text\n') },
      { path: 'README.md', content: Buffer.from('---\nlicense: apache-2.0\n---\n# tiny classifier\n') },
      {
        path: 'config.json',
        content: text({
          architectures: ['BertForSequenceClassification'],
          model_type: 'bert',
          id2label: { 0: 'NEGATIVE', 1: 'POSITIVE' },
          label2id: { NEGATIVE: 0, POSITIVE: 1 },
        }),
      },
      { path: 'tokenizer.json', content: text({ version: '1.0', model: { type: 'WordPiece', vocab: { '[UNK]': 0, a: 1 } } }) },
      { path: 'tokenizer_config.json', content: text({ do_lower_case: true, model_max_length: 512 }) },
      { path: 'special_tokens_map.json', content: text({ unk_token: '[UNK]' }) },
      { path: 'onnx/model.onnx', content: Buffer.from(encodeModel(spec)) },
      { path: 'onnx/model_quantized.onnx', content: Buffer.from(onnx.ModelProto.encode(proto).finish()) },
      { path: 'onnx/model_quantized.onnx_data', content: external },
    ],
  };
}
