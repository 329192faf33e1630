// The parsed form of LATHE_API_KEYS: config/ builds it, auth/ checks requests against it. It lives here,
// below both, so that config/ and auth/ do not import each other.
import { createHash, timingSafeEqual } from 'node:crypto';

export const SCOPES = ['infer', 'manage', 'train', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKey {
  name: string;
  /** sha256 of the key, raw bytes; the key itself is never held. */
  hash: Buffer;
  scopes: ReadonlySet<Scope>;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * Parses `LATHE_API_KEYS`: entries `name:sha256hex:scope+scope` separated by commas or
 * whitespace, e.g. `ci:9f86d0…:infer+train`. Throws with a message naming the bad entry.
 */
export function parseApiKeys(value: string): ApiKey[] {
  const entries = value.split(/[\s,]+/).filter(Boolean);
  // Separators alone ("," or " , ") mean a key list went missing somewhere (a template, a secret
  // store): booting open would expose every route, so it is a configuration error, not "no keys".
  if (entries.length === 0 && value.trim() !== '') {
    throw new Error('has separators but no entry (leave it unset or empty to run without keys)');
  }
  const names = new Set<string>();
  return entries.map((entry, i) => {
    const [name, hex, scopeList, ...rest] = entry.split(':');
    const where = `entry ${i + 1} (${name || '?'})`;
    if (rest.length > 0 || !name || !hex || !scopeList) {
      throw new Error(`${where} must be name:sha256hex:scope+scope`);
    }
    if (!/^[a-f0-9]{64}$/i.test(hex)) throw new Error(`${where}: hash must be 64 hex characters (sha256 of the key)`);
    if (names.has(name)) throw new Error(`${where}: duplicate name`);
    names.add(name);
    const scopes = scopeList.split('+').map((s) => {
      if (!(SCOPES as readonly string[]).includes(s)) {
        throw new Error(`${where}: unknown scope "${s}" (expected ${SCOPES.join(', ')})`);
      }
      return s as Scope;
    });
    return { name, hash: Buffer.from(hex, 'hex'), scopes: new Set(scopes) };
  });
}

/** Finds the key whose hash matches, comparing every configured key in constant time. */
export function findApiKey(keys: readonly ApiKey[], presented: string): ApiKey | undefined {
  const digest = createHash('sha256').update(presented, 'utf8').digest();
  let found: ApiKey | undefined;
  for (const key of keys) {
    if (timingSafeEqual(key.hash, digest)) found = key;
  }
  return found;
}

/** `admin` holds every scope. */
export function hasScope(key: ApiKey, scope: Scope): boolean {
  return key.scopes.has('admin') || key.scopes.has(scope);
}
