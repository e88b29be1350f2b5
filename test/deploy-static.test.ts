/** Static checks of docker/: Dockerfiles through a linter, compose and Kubernetes YAML parsed and asserted. */
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { validate } from 'dockerfile-utils';
import { parse, parseAllDocuments } from 'yaml';
import { ServeConfigSchema, envName } from '../src/config/schema.js';

const docker = join(import.meta.dirname, '..', 'docker');
const read = (...p: string[]) => readFileSync(join(docker, ...p), 'utf8');
// Every WARM_SERVE_* variable the deployment files set must be a real setting.
const knownEnv = new Set(Object.keys(ServeConfigSchema.shape).map(envName));

t.test('the linter finds problems in a broken Dockerfile (so a clean result means something)', async (t) => {
  t.ok(validate('FROM node:20\nEXPOSE notaport\nHEALTHCHECK --interval=x CMD true\n').length > 0);
});

for (const file of ['Dockerfile', 'Dockerfile.gpu']) {
  t.test(`${file}: lint-clean, non-root, tini, port 8000`, async (t) => {
    const text = read(file);
    t.same(validate(text).map((d) => `${d.range.start.line + 1}: ${d.message}`), [], 'no lint diagnostics');
    t.match(text, /^USER (?!root)\S+$/m, 'runs as a non-root user');
    t.match(text, /ENTRYPOINT \["\/usr\/bin\/tini", "--"/, 'tini is PID 1 so SIGTERM reaches node');
    t.match(text, /^EXPOSE 8000$/m);
    t.match(text, /^HEALTHCHECK .*\n?.*\/health/m, 'HEALTHCHECK on /health');
    t.match(text, /COPY models\/reference \/models\/reference/, 'bundles the reference model');
    for (const [, name] of text.matchAll(/(WARM_SERVE_[A-Z_]+)=/g)) t.ok(knownEnv.has(name), `${name} is a setting`);
  });
}

t.test('CPU image skips the CUDA download; GPU image asks for it', async (t) => {
  t.match(read('Dockerfile'), /FROM node:24-bookworm-slim/, 'Node 24 (test/node-versions.test.ts: a supported line)');
  t.match(read('Dockerfile'), /ONNXRUNTIME_NODE_INSTALL=skip/);
  t.match(read('Dockerfile.gpu'), /ONNXRUNTIME_NODE_INSTALL=cuda12/);
  t.match(read('Dockerfile.gpu'), /FROM nvidia\/cuda:12[^\s]*cudnn-runtime/);
});

t.test('compose: three replicas behind nginx with the tested template', async (t) => {
  const compose = parse(read('compose.yaml'), { merge: true });
  const replicas = Object.keys(compose.services).filter((s) => s.startsWith('replica-'));
  t.equal(replicas.length, 3);
  for (const name of replicas) {
    const svc = compose.services[name];
    t.equal(svc.build.dockerfile, 'docker/Dockerfile');
    t.equal(svc.init, true, `${name}: init so SIGTERM reaches the server`);
    const grace = Number(String(svc.stop_grace_period).replace(/s$/, ''));
    t.ok(grace * 1000 > Number(svc.environment.WARM_SERVE_DRAIN_TIMEOUT_MS), `${name}: stop grace period > drain timeout`);
    for (const key of Object.keys(svc.environment)) if (key.startsWith('WARM_SERVE_')) t.ok(knownEnv.has(key), `${key} is a setting`);
  }
  const nginx = compose.services.nginx;
  t.same(nginx.ports, ['8080:8080']);
  t.ok(nginx.volumes.some((v: string) => v.startsWith('./nginx/warm-serve.conf.template:')), 'mounts the tested template');
  for (let i = 1; i <= 3; i++) t.equal(nginx.environment[`WARM_UPSTREAM_${i}`], `replica-${i}:8000`);
  const template = read('nginx', 'warm-serve.conf.template');
  for (const directive of ['least_conn;', 'keepalive ', 'max_fails=', 'proxy_next_upstream error timeout http_502 http_503 non_idempotent;']) {
    t.ok(template.includes(directive), `nginx: ${directive}`);
  }
});

t.test('kubernetes: probes, ports, env, resources, drain-aware termination', async (t) => {
  const docs = readdirSync(join(docker, 'kubernetes'))
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(read('kubernetes', f)).map((d) => d.toJS()));
  const byKind = new Map(docs.map((d) => [d.kind, d]));
  t.same([...byKind.keys()].sort(), ['Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Service']);
  const pod = byKind.get('Deployment').spec.template.spec;
  const [c] = pod.containers;
  t.equal(c.readinessProbe.httpGet.path, '/ready');
  t.equal(c.livenessProbe.httpGet.path, '/health');
  t.same(c.ports, [{ name: 'http', containerPort: 8000 }]);
  t.ok(c.resources.requests.cpu && c.resources.limits.memory, 'resources set');
  const env = Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]));
  for (const key of Object.keys(env)) t.ok(knownEnv.has(key), `${key} is a setting`);
  const preStopSeconds = Number(c.lifecycle.preStop.exec.command[1]);
  t.ok(pod.terminationGracePeriodSeconds > preStopSeconds + Number(env.WARM_SERVE_DRAIN_TIMEOUT_MS) / 1000, 'grace > preStop + drain timeout');
  t.equal(byKind.get('Service').spec.ports[0].targetPort, 'http');
  t.equal(byKind.get('HorizontalPodAutoscaler').spec.scaleTargetRef.name, 'warm-serve');
  t.ok(byKind.get('PodDisruptionBudget').spec.minAvailable >= 1);
});
