import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SseParser } from './sse.js';

describe('SseParser', () => {
  it('returns whole events however the stream is cut, skipping comments', () => {
    const stream = ': keep-alive\n\ndata: {"a":1}\n\nevent: error\ndata: one\ndata: two\r\n\r\ndata: [DONE]\n\n';
    for (const size of [1, 2, 3, 7, stream.length]) {
      const parser = new SseParser();
      const events = [];
      for (let i = 0; i < stream.length; i += size) events.push(...parser.push(stream.slice(i, i + size)));
      assert.deepEqual(
        events,
        [
          { event: 'message', data: '{"a":1}' },
          { event: 'error', data: 'one\ntwo' },
          { event: 'message', data: '[DONE]' },
        ],
        `chunks of ${size}`,
      );
    }
  });

  it('keeps a partial event until its blank line arrives', () => {
    const parser = new SseParser();
    assert.deepEqual(parser.push('data: half'), []);
    assert.deepEqual(parser.push('\n\n'), [{ event: 'message', data: 'half' }]);
  });
});
