// Builds the web console (src/console/web) into dist/console: one script, one stylesheet and the
// page, bundled with esbuild from the sources and node_modules (uPlot), nothing from a CDN. Run by
// `npm run build` after the type check (into the folder given, default dist/console); prints each
// file's size, raw and gzipped.
// Plain JavaScript (not compiled) so the Docker build can run it beside tsc.
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src/console/web');
const out = resolve(process.argv[2] ?? join(root, 'dist/console'));
mkdirSync(out, { recursive: true });

await build({
  entryPoints: { app: join(source, 'main.ts') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome111', 'firefox111', 'safari16.4'],
  outdir: out,
  legalComments: 'none',
  logLevel: 'warning',
});
await build({
  entryPoints: { app: join(source, 'styles.css') },
  bundle: true,
  minify: true,
  outdir: out,
  logLevel: 'warning',
});
copyFileSync(join(source, 'index.html'), join(out, 'index.html'));

let raw = 0;
let gzipped = 0;
for (const name of readdirSync(out).sort()) {
  const bytes = readFileSync(join(out, name));
  const gz = gzipSync(bytes, { level: 9 }).length;
  raw += bytes.length;
  gzipped += gz;
  console.log(`console: ${name.padEnd(11)} ${(bytes.length / 1024).toFixed(1).padStart(6)} KiB (${(gz / 1024).toFixed(1)} KiB gzipped)`);
}
console.log(
  `console: total       ${(raw / 1024).toFixed(1).padStart(6)} KiB (${(gzipped / 1024).toFixed(1)} KiB gzipped) in ${relative(root, out)}`,
);
