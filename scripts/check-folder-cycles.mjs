// Folder-cycle check for src/ (run by `npm run lint`): every top-level folder of src/ is a node, the
// files at src/ itself (main.ts, app.module.ts, app.setup.ts, serve.ts, http-hooks.ts) are one node "<root>", and an import from
// a file in one folder to a file in another is an edge. The graph must have no cycle. Colocated
// *.spec.ts files are tests (consumers, like test/), so their imports are not edges. No folder may
// import the root files either. On failure it prints the imports at fault.
// Plain JavaScript (not compiled) so that `npm run lint` needs no build.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const srcRoot = join(projectRoot, 'src');
const IMPORT = /\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]|\bimport\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g;

function* sourceFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) yield path;
  }
}

function folderOf(file) {
  const parts = relative(srcRoot, file).split(sep);
  return parts.length === 1 ? '<root>' : parts[0];
}

/** Map "a -> b" to the imports that make the edge ("src/x/y.ts imports ../z/w.js"). */
function folderEdges() {
  const edges = new Map();
  for (const file of sourceFiles(srcRoot)) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2];
      const target = resolve(dirname(file), specifier);
      if (relative(srcRoot, target).startsWith('..')) continue;
      const from = folderOf(file);
      const to = folderOf(target);
      if (from === to) continue;
      const key = `${from} -> ${to}`;
      if (!edges.has(key)) edges.set(key, []);
      edges.get(key).push(`${relative(projectRoot, file)} imports ${specifier}`);
    }
  }
  return edges;
}

/** One cycle in the graph as a list of nodes (first repeated at the end), or undefined. */
function findCycle(edgeKeys) {
  const next = new Map();
  for (const key of edgeKeys) {
    const [from, to] = key.split(' -> ');
    if (!next.has(from)) next.set(from, []);
    next.get(from).push(to);
  }
  const state = new Map(); // 1 = on the current path, 2 = done
  const path = [];
  const visit = (node) => {
    state.set(node, 1);
    path.push(node);
    for (const to of next.get(node) ?? []) {
      if (state.get(to) === 1) return [...path.slice(path.indexOf(to)), to];
      if (!state.has(to)) {
        const found = visit(to);
        if (found) return found;
      }
    }
    path.pop();
    state.set(node, 2);
    return undefined;
  };
  for (const node of [...next.keys()].sort()) {
    if (!state.has(node)) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return undefined;
}

const edges = folderEdges();
const problems = [];
// The root wires the app together; only main.ts, scripts and tests start from it.
for (const [key, sites] of edges) {
  if (key.endsWith(' -> <root>')) problems.push(...sites.map((site) => `nothing under src/<folder>/ imports the files at src/: ${site}`));
}
const cycle = findCycle([...edges.keys()]);
if (cycle) {
  problems.push(`folder cycle: ${cycle.join(' -> ')}`);
  for (let i = 0; i + 1 < cycle.length; i++) {
    const key = `${cycle[i]} -> ${cycle[i + 1]}`;
    for (const site of edges.get(key)) problems.push(`  ${key}: ${site}`);
  }
}
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`folder graph of src/: ${edges.size} edges, no cycle`);
