/**
 * Three replicas as processes behind a real nginx using docker/nginx/warm-serve.conf.template
 * (the compose stack's configuration, ports templated). Under steady load:
 * SIGTERM one replica -> zero failed requests; kill -9 another -> only requests in flight on it
 * may fail; restart the first -> it rejoins and serves again once ready.
 */
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { freePort } from './helpers/free-port.js';
import { checkTiming } from './helpers/timing.js';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'cli', 'main.js');
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => spawnSync(p, ['-v']).status === 0);

async function waitFor(url: string, status = 200, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === status) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms`);
}

function startReplica(port: number): ChildProcess {
  return spawn(process.execPath, [cli, 'serve', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function scoredBy(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('warm_serve_requests_total{route="/v1/score",method="POST",status="200"}'));
  return line ? Number(line.split(' ').pop()) : 0;
}

t.test('nginx in front of three replicas: drain, crash and rejoin under load', { timeout: 240_000 }, async (t) => {
  if (!NGINX) {
    t.fail('nginx is not installed (apt-get install nginx); npm test installs it as root on Debian (scripts/test-deps.sh)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'warm-lb-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const lbPort = await freePort();
  const replicas = ports.map(startReplica);
  t.teardown(() => replicas.forEach((r) => r.kill('SIGKILL')));
  await Promise.all(ports.map((p) => waitFor(`http://127.0.0.1:${p}/ready`)));

  // Render the compose stack's template exactly as the nginx image does (envsubst of these names).
  const vars: Record<string, string> = {
    WARM_LB_PORT: `127.0.0.1:${lbPort}`,
    WARM_UPSTREAM_1: `127.0.0.1:${ports[0]}`,
    WARM_UPSTREAM_2: `127.0.0.1:${ports[1]}`,
    WARM_UPSTREAM_3: `127.0.0.1:${ports[2]}`,
  };
  const template = readFileSync(join(root, 'docker', 'nginx', 'warm-serve.conf.template'), 'utf8');
  writeFileSync(join(dir, 'warm-serve.conf'), template.replace(/\$\{(WARM_[A-Z0-9_]+)\}/g, (_, name: string) => vars[name]));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log warn;\n` +
      `events { worker_connections 1024; }\n` +
      `http {\n  access_log off;\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;\n` +
      `  fastcgi_temp_path ${dir}/fastcgi;\n  uwsgi_temp_path ${dir}/uwsgi;\n  scgi_temp_path ${dir}/scgi;\n` +
      `  include ${dir}/warm-serve.conf;\n}\n`,
  );
  const nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'inherit'] });
  t.teardown(() => nginx.kill('SIGKILL'));
  await waitFor(`http://127.0.0.1:${lbPort}/health`);

  // Steady closed-loop load: 8 clients, one item per request, as RL workers send them.
  const agent = new Agent({ connections: 16 });
  t.teardown(() => agent.close());
  type Outcome = { start: number; end: number; ok: boolean; detail: string };
  const outcomes: Outcome[] = [];
  let running = true;
  const client = async (id: number) => {
    let i = 0;
    while (running) {
      const start = Date.now();
      const body = JSON.stringify({ items: [{ prompt: `Client ${id} asks question ${i++}.`, completion: ' A short answer.' }] });
      try {
        const res = await request(`http://127.0.0.1:${lbPort}/v1/score`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
          dispatcher: agent,
        });
        const json = (await res.body.json()) as { rewards?: number[] };
        const ok = res.statusCode === 200 && Number.isFinite(json.rewards?.[0]);
        outcomes.push({ start, end: Date.now(), ok, detail: `${res.statusCode}` });
      } catch (err) {
        outcomes.push({ start, end: Date.now(), ok: false, detail: (err as Error).message });
      }
    }
  };
  const load = Promise.all(Array.from({ length: 8 }, (_, i) => client(i)));
  const failuresBetween = (from: number, to: number) => outcomes.filter((o) => !o.ok && o.end >= from && o.start <= to);

  await sleep(2000);
  t.same(failuresBetween(0, Date.now()), [], 'steady state: no failures');

  // 1. SIGTERM replica 0: it drains and exits 0; no client request fails.
  const termAt = Date.now();
  replicas[0].kill('SIGTERM');
  t.equal(await exited(replicas[0]), 0, 'replica 0 drained and exited 0');
  await sleep(1500);
  t.same(failuresBetween(termAt, Date.now()), [], 'SIGTERM: zero failed requests');

  // 2. kill -9 replica 1: only requests in flight on it may fail; then everything succeeds.
  const killAt = Date.now();
  replicas[1].kill('SIGKILL');
  await exited(replicas[1]);
  await sleep(3000);
  const afterKill = failuresBetween(killAt, Date.now());
  const late = afterKill.filter((o) => o.start > killAt + 50);
  await checkTiming(t, late.length === 0, `only requests started before the kill failed (${afterKill.length} failed, ${late.length} of them started over 50 ms after it)`);
  t.ok(afterKill.length <= 8, 'at most the in-flight requests failed');
  const settled = Date.now();
  await sleep(1500);
  t.same(failuresBetween(settled, Date.now()), [], 'one replica left: everything succeeds');

  // 3. Restart replica 0 on its port: once ready, nginx sends it traffic again.
  replicas[0] = startReplica(ports[0]);
  await waitFor(`http://127.0.0.1:${ports[0]}/ready`);
  const rejoinedAt = Date.now();
  await sleep(4000); // > fail_timeout: nginx tries the replica again
  t.ok((await scoredBy(ports[0])) > 0, 'restarted replica serves requests through nginx');
  t.same(failuresBetween(rejoinedAt, Date.now()), [], 'rejoin: zero failed requests');

  running = false;
  await load;
  const total = outcomes.length;
  t.ok(total > 50, `load was steady (${total} requests)`);
  t.comment(`requests: ${total}, failed: ${outcomes.filter((o) => !o.ok).length} (${[...new Set(outcomes.filter((o) => !o.ok).map((o) => o.detail))].join(', ')})`);
  replicas[0].kill('SIGTERM');
  replicas[2].kill('SIGTERM');
  await Promise.all([exited(replicas[0]), exited(replicas[2])]);
});
