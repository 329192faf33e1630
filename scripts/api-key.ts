/**
 * Makes a new API key and the LATHE_API_KEYS entry that admits it (only the hash is stored).
 *   npm run api-key -- <name> <scope+scope>      e.g. npm run api-key -- ci infer+train
 */
import { randomBytes } from 'node:crypto';
import { hashApiKey, parseApiKeys } from '../src/config/api-keys.js';

const [name, scopes] = process.argv.slice(2);
if (!name || !scopes) {
  console.error('usage: npm run api-key -- <name> <scope+scope>   (scopes: infer, manage, train, admin)');
  process.exit(2);
}
const key = `lathe_${randomBytes(24).toString('base64url')}`;
const entry = `${name}:${hashApiKey(key)}:${scopes}`;
try {
  parseApiKeys(entry);
} catch (err) {
  console.error(`lathe: ${(err as Error).message}`);
  process.exit(2);
}
console.log(`key (give to the client, shown once): ${key}`);
console.log(`LATHE_API_KEYS entry:                 ${entry}`);
