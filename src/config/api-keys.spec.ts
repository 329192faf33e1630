import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findApiKey, hasScope, hashApiKey, parseApiKeys } from './api-keys.js';

const h = (k: string) => hashApiKey(k);

describe('parseApiKeys', () => {
  it('reads name, hash and scopes from comma or whitespace separated entries', () => {
    const keys = parseApiKeys(`a:${h('ka')}:infer, b:${h('kb')}:manage+train\nc:${h('kc')}:admin`);
    assert.deepEqual(
      keys.map((k) => [k.name, k.hash.toString('hex'), [...k.scopes]]),
      [
        ['a', h('ka'), ['infer']],
        ['b', h('kb'), ['manage', 'train']],
        ['c', h('kc'), ['admin']],
      ],
    );
    assert.deepEqual(parseApiKeys('  '), []);
  });

  const bad: Array<[string, RegExp]> = [
    ['justaname', /entry 1 \(justaname\) must be name:sha256hex:scope\+scope/],
    [`a:${h('k')}:infer:extra`, /must be name:sha256hex/],
    ['a:1234:infer', /hash must be 64 hex characters/],
    [`a:${h('k')}:root`, /unknown scope "root"/],
    [`a:${h('k')}:infer,a:${h('j')}:infer`, /entry 2 \(a\): duplicate name/],
  ];
  for (const [value, message] of bad) {
    it(`rejects ${value.slice(0, 30)}`, () => assert.throws(() => parseApiKeys(value), message));
  }
});

describe('findApiKey and hasScope', () => {
  const keys = parseApiKeys(`reader:${h('r')}:infer,boss:${h('b')}:admin`);

  it('finds a key by its plaintext and nothing for an unknown one', () => {
    assert.equal(findApiKey(keys, 'r')?.name, 'reader');
    assert.equal(findApiKey(keys, 'b')?.name, 'boss');
    assert.equal(findApiKey(keys, 'x'), undefined);
    assert.equal(findApiKey(keys, ''), undefined);
  });

  it('grants a key its own scopes, and admin every scope', () => {
    assert.equal(hasScope(keys[0]!, 'infer'), true);
    assert.equal(hasScope(keys[0]!, 'train'), false);
    for (const s of ['infer', 'manage', 'train', 'admin'] as const) assert.equal(hasScope(keys[1]!, s), true);
  });
});
