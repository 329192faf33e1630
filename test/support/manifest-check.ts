import { join } from 'node:path';
import ts from 'typescript';
import { ROOT } from './processes.js';

export interface Manifest {
  /** Where it came from, for messages: file and document index. */
  source: string;
  value: unknown;
}

/** apiVersion/kind -> the module and type that describe it. */
const KINDS: Record<string, [string, string]> = {
  'v1/Secret': ['kubernetes-types/core/v1.js', 'Secret'],
  'v1/Service': ['kubernetes-types/core/v1.js', 'Service'],
  'apps/v1/Deployment': ['kubernetes-types/apps/v1.js', 'Deployment'],
  'policy/v1/PodDisruptionBudget': ['kubernetes-types/policy/v1.js', 'PodDisruptionBudget'],
  'autoscaling/v2/HorizontalPodAutoscaler': ['kubernetes-types/autoscaling/v2.js', 'HorizontalPodAutoscaler'],
  'serving.kserve.io/v1alpha1/ServingRuntime': ['../deploy/kserve-types.js', 'ServingRuntime'],
};

/**
 * Checks each manifest against its kind's type (kubernetes-types: Kubernetes' API types, generated
 * from its OpenAPI document; KServe's from test/deploy/kserve-types.ts) with the TypeScript
 * compiler, offline: each manifest becomes an object literal of that type, so a field the kind does
 * not have (excess property check, at every depth), a missing required one or a wrong type is an
 * error. Returns one message per problem, each naming its manifest.
 */
export function checkManifests(manifests: Manifest[]): string[] {
  const problems: string[] = [];
  const lines: string[] = [];
  const owners: Array<{ from: number; source: string }> = [];
  manifests.forEach((m, i) => {
    const { apiVersion, kind } = (m.value ?? {}) as { apiVersion?: unknown; kind?: unknown };
    const type = KINDS[`${String(apiVersion)}/${String(kind)}`];
    if (!type) {
      problems.push(`${m.source}: no schema for apiVersion ${String(apiVersion)}, kind ${String(kind)}`);
      return;
    }
    owners.push({ from: lines.length, source: m.source });
    lines.push(...`export const m${i}: import('${type[0]}').${type[1]} = ${JSON.stringify(m.value, null, 2)};`.split('\n'));
  });
  // A file that is never written: it sits in test/support/ so that its imports resolve from there.
  const fileName = join(ROOT, 'test/support/manifests.check.ts');
  const text = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts'],
    types: [],
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    name === fileName ? ts.createSourceFile(name, text, language) : getSourceFile(name, language, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === fileName || fileExists(name);
  const program = ts.createProgram([fileName], options, host);
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (d.file?.fileName !== fileName || d.start === undefined) {
      problems.push(`${d.file?.fileName ?? 'compiler'}: ${message}`);
      continue;
    }
    const line = d.file.getLineAndCharacterOfPosition(d.start).line;
    const owner = owners.filter((o) => o.from <= line).at(-1)!;
    problems.push(`${owner.source} (line ${line - owner.from + 1} of its JSON form): ${message}`);
  }
  return problems;
}
