import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderFormat } from './detect.service.js';

describe('renderFormat', () => {
  const media = (render?: unknown) => ({ items: [], options: render === undefined ? {} : { render }, batch: false });
  const cases: Array<[unknown, string | undefined, string | undefined]> = [
    [undefined, undefined, undefined],
    [undefined, 'application/json', undefined],
    [undefined, '*/*', undefined],
    [undefined, 'image/png', 'png'],
    [undefined, 'image/jpeg', 'jpeg'],
    [undefined, 'application/json, image/png', undefined],
    [undefined, 'image/png, */*;q=0.1', undefined],
    [true, undefined, 'png'],
    ['true', '*/*', 'png'],
    ['1', 'image/jpeg', 'jpeg'],
    [false, 'image/png', undefined],
    ['false', 'image/png', undefined],
    ['yes', undefined, undefined],
  ];
  for (const [render, accept, want] of cases) {
    it(`render=${String(render)}, Accept ${accept ?? '(none)'}: ${want ?? 'JSON'}`, () =>
      assert.equal(renderFormat(media(render), accept), want));
  }
});
