/**
 * A cheap check, at upload, that base64 media is the kind of file it claims to be: the container
 * formats Lathe's image and audio decoders read, by their signatures. Full decoding happens when a
 * job computes features; this catches text, truncated or mislabelled data before a job is made.
 */
const IMAGE_SIGNATURES: ReadonlyArray<{ name: string; test: (b: Buffer) => boolean }> = [
  { name: 'PNG', test: (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) },
  { name: 'JPEG', test: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  { name: 'GIF', test: (b) => b.subarray(0, 4).toString('latin1') === 'GIF8' },
  { name: 'WebP', test: (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP' },
  { name: 'BMP', test: (b) => b.subarray(0, 2).toString('latin1') === 'BM' },
  { name: 'TIFF', test: (b) => ['II*\u0000', 'MM\u0000*'].includes(b.subarray(0, 4).toString('latin1')) },
];

const AUDIO_SIGNATURES: ReadonlyArray<{ name: string; test: (b: Buffer) => boolean }> = [
  { name: 'WAV', test: (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WAVE' },
  { name: 'MP3', test: (b) => b.subarray(0, 3).toString('latin1') === 'ID3' || (b[0] === 0xff && (b[1]! & 0xe0) === 0xe0) },
  { name: 'Ogg', test: (b) => b.subarray(0, 4).toString('latin1') === 'OggS' },
  { name: 'FLAC', test: (b) => b.subarray(0, 4).toString('latin1') === 'fLaC' },
  { name: 'MP4/M4A', test: (b) => b.subarray(4, 8).toString('latin1') === 'ftyp' },
  { name: 'WebM', test: (b) => b.subarray(0, 4).equals(Buffer.from([0x1a, 0x45, 0xdf, 0xa3])) },
];

const MIN_BYTES = 12;

/** Why the bytes are not an image (or audio) file Lathe reads, or undefined when they look like one. */
export function sniffMedia(kind: 'image' | 'audio', bytes: Buffer): string | undefined {
  const signatures = kind === 'image' ? IMAGE_SIGNATURES : AUDIO_SIGNATURES;
  if (bytes.length < MIN_BYTES) return `is ${bytes.length} bytes, too short to be an ${kind} file`;
  if (signatures.some((s) => s.test(bytes))) return undefined;
  return `does not decode as an ${kind}: not ${signatures.map((s) => s.name).join(', ')}`;
}
