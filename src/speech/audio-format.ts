/**
 * The container or codec an audio body is in, from its first bytes, so a body that is not audio
 * at all (a text file, an image) is refused without starting ffmpeg.
 */
export function sniffAudioFormat(bytes: Uint8Array): string | undefined {
  const at = (offset: number, text: string) => ascii(bytes, offset, text.length) === text;
  if (at(0, 'RIFF') && at(8, 'WAVE')) return 'wav';
  if (at(0, 'RF64') && at(8, 'WAVE')) return 'wav';
  if (at(0, 'ID3')) return 'mp3';
  if (at(0, 'OggS')) return 'ogg';
  if (at(0, 'fLaC')) return 'flac';
  if (at(4, 'ftyp')) return 'm4a';
  if (at(0, 'FORM') && (at(8, 'AIFF') || at(8, 'AIFC'))) return 'aiff';
  if (at(0, '#!AMR')) return 'amr';
  if (at(0, '.snd')) return 'au';
  if (at(0, 'wvpk')) return 'wavpack';
  if (at(0, 'MAC ')) return 'ape';
  if (at(0, 'caff')) return 'caf';
  if (bytes.length >= 4 && bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) return 'webm';
  if (bytes.length >= 2 && bytes[0] === 0xff && (bytes[1]! & 0xe0) === 0xe0) {
    // MPEG audio frame sync; layer bits 00 mean AAC in an ADTS stream rather than MP1/2/3.
    return (bytes[1]! & 0x06) === 0 ? 'aac' : 'mp3';
  }
  return undefined;
}

/** A short description of what a non-audio body looks like, for the error message. */
export function describeNonAudio(bytes: Uint8Array): string {
  const head = bytes.subarray(0, 64);
  const printable = head.every((b) => b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f));
  if (printable) return `it looks like text ("${ascii(head, 0, 24).replace(/\s+/g, ' ').trim()}…")`;
  const hex = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return `it starts with bytes ${hex}`;
}

function ascii(bytes: Uint8Array, at: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + length));
}
