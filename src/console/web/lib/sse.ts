/**
 * Server-Sent Events framing, for streams read with fetch() (EventSource cannot send an
 * Authorization header). Feed it decoded text as it arrives; it returns each complete event's
 * data (multi-line data joined with "\n"), and keeps a partial event for the next chunk.
 */
export class SseParser {
  private buffer = '';

  push(chunk: string): Array<{ event: string; data: string }> {
    this.buffer += chunk.replace(/\r\n?/g, '\n');
    const out: Array<{ event: string; data: string }> = [];
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length > 0) out.push({ event, data: data.join('\n') });
    }
    return out;
  }
}
