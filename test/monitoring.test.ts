/**
 * The monitoring files of docker/ against the real thing: a Prometheus (Debian package) runs
 * docker/prometheus/prometheus.yml with its targets pointed at a warm-serve on this machine and
 * scrapes it under traffic; then every query of the Grafana dashboard (docker/grafana/warm-serve.json)
 * must parse (lezer-promql, the Prometheus project's grammar) and return finite numbers, and its
 * variables must list this server; the alert rules load and evaluate there, and pass their promtool
 * unit tests (docker/prometheus/alerts.test.yml). The compose services are asserted statically.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parser } from '@prometheus-io/lezer-promql';
import { parse, stringify } from 'yaml';
import { startServer } from '../src/server/start.js';
import { testConfig } from './helpers/http-call.js';
import { freePort } from './helpers/free-port.js';

const DOCKER = path.join(import.meta.dirname, '..', 'docker');
const PROMETHEUS = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'].find((p) => spawnSync(p, ['--version']).status === 0);
const PROMTOOL = PROMETHEUS && path.join(path.dirname(PROMETHEUS), 'promtool');
const NOT_INSTALLED = 'prometheus is not installed (apt-get install prometheus); npm test installs it as root on Debian (scripts/test-deps.sh)';
const dashboard = JSON.parse(readFileSync(path.join(DOCKER, 'grafana', 'warm-serve.json'), 'utf8'));

interface Target {
  panel: string;
  expr: string;
  legend: string;
}
const targets: Target[] = dashboard.panels.flatMap((p: any) => p.targets.map((x: any) => ({ panel: p.title, expr: x.expr, legend: x.legendFormat })));

/** The dashboard's variables as Grafana fills them for one job and every replica. */
const fill = (expr: string) => expr.replaceAll('$__rate_interval', '15s').replaceAll('$job', 'warm-serve').replaceAll('$instance', '.*');

t.test('every dashboard query is valid PromQL', async (t) => {
  t.ok(targets.length >= 10, `${targets.length} queries`);
  for (const { panel, expr } of targets) {
    let errorAt = -1;
    parser.parse(fill(expr)).iterate({ enter: (n) => void (n.type.isError && errorAt < 0 && (errorAt = n.from)) });
    t.equal(errorAt, -1, `${panel}: ${expr}`);
  }
  const ids = dashboard.panels.map((p: any) => p.id);
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique');
});

t.test('compose: Prometheus and Grafana behind the monitoring profile, with these files', async (t) => {
  const compose = parse(readFileSync(path.join(DOCKER, 'compose.yaml'), 'utf8'), { merge: true });
  const { prometheus, grafana } = compose.services;
  t.same([prometheus.profiles, grafana.profiles], [['monitoring'], ['monitoring']], 'off unless asked for');
  t.ok(prometheus.volumes.includes('./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro'));
  t.ok(prometheus.volumes.includes('./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro'), 'with the alert rules');
  t.ok(grafana.volumes.includes('./grafana/warm-serve.json:/var/lib/grafana/dashboards/warm-serve.json:ro'));
  t.ok(grafana.volumes.includes('./grafana/provisioning:/etc/grafana/provisioning:ro'));
  const config = parse(readFileSync(path.join(DOCKER, 'prometheus', 'prometheus.yml'), 'utf8'));
  const replicas = Object.keys(compose.services).filter((s) => s.startsWith('replica-'));
  t.same(config.scrape_configs[0].static_configs[0].targets, replicas.map((r) => `${r}:8000`), 'scrapes every replica');
  const datasources = parse(readFileSync(path.join(DOCKER, 'grafana', 'provisioning', 'datasources', 'prometheus.yaml'), 'utf8'));
  t.equal(datasources.datasources[0].url, 'http://prometheus:9090');
  const providers = parse(readFileSync(path.join(DOCKER, 'grafana', 'provisioning', 'dashboards', 'warm-serve.yaml'), 'utf8'));
  t.equal(providers.providers[0].options.path, '/var/lib/grafana/dashboards');
});

t.test('a real Prometheus scraping a real server answers every dashboard query', { timeout: 120_000 }, async (t) => {
  if (!PROMETHEUS) {
    t.fail(NOT_INSTALLED);
    return;
  }
  // Small request limits, so a 413 shows up in the refusals panel.
  const server = await startServer(testConfig({ max_chars_per_item: 2000 }));
  t.teardown(() => server.stop());
  const { host } = new URL(server.url);

  const dir = mkdtempSync(path.join(tmpdir(), 'monitoring-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = parse(readFileSync(path.join(DOCKER, 'prometheus', 'prometheus.yml'), 'utf8'));
  config.global.scrape_interval = '1s';
  config.scrape_configs[0].static_configs[0].targets = [host];
  writeFileSync(path.join(dir, 'prometheus.yml'), stringify(config));
  copyFileSync(path.join(DOCKER, 'prometheus', 'alerts.yml'), path.join(dir, 'alerts.yml'));
  const promPort = await freePort();
  const prom = spawn(PROMETHEUS, [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
  t.teardown(() => prom.kill('SIGKILL'));
  const api = `http://127.0.0.1:${promPort}/api/v1`;

  // Traffic for the whole test: concurrent scoring, ranking, and a refused request now and then.
  let running = true;
  const post = (route: string, body: unknown) => fetch(`${server.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.arrayBuffer());
  const client = async (k: number) => {
    for (let i = 0; running; i++) {
      await post('/v1/score', { items: [{ prompt: `Human: question ${k}.${i}?\n\nAssistant:`, completion: ' An answer.'.repeat(1 + (i % 5)) }] });
      if (i % 10 === 0) await post('/v1/rank', { prompt: 'Human: Hi\n\nAssistant:', completions: [' Hello!', ' Go away.'] });
      if (i % 25 === 0) await post('/v1/score', { items: [{ text: 'x'.repeat(3000) }] }); // 413 request_limits
      await sleep(20);
    }
  };
  const clients = Array.from({ length: 4 }, (_, k) => client(k));

  const query = async (expr: string) => {
    const res = await fetch(`${api}/query?query=${encodeURIComponent(expr)}`);
    return (await res.json()) as { status: string; error?: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  };
  // Wait until Prometheus has scraped the server for longer than the rate window.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const up = await query('count_over_time(up{job="warm-serve"}[1m])').catch(() => undefined);
    if (Number(up?.data?.result[0]?.value[1] ?? 0) >= 20) break;
    if (Date.now() > deadline) throw new Error('Prometheus did not scrape the server 20 times in 60 s');
    await sleep(500);
  }

  for (const { panel, expr, legend } of targets) {
    const res = await query(fill(expr));
    t.equal(res.status, 'success', `${panel} / ${legend}: ${res.error ?? 'ok'}`);
    const values = res.data.result.map((r) => Number(r.value[1]));
    t.ok(values.length > 0 && values.every(Number.isFinite), `${panel} / ${legend}: ${JSON.stringify(res.data.result.map((r) => [r.metric, r.value[1]]))}`);
  }
  const requests = await query(fill(targets.find((x) => x.panel === 'Requests by route and status')!.expr));
  const series = requests.data.result.map((r) => `${r.metric.route} ${r.metric.status}`);
  t.ok(series.includes('/v1/score 200') && series.includes('/v1/rank 200') && series.includes('/v1/score 413'), `requests by route and status: ${series.join(', ')}`);
  const refused = await query(fill(targets.find((x) => x.legend === 'refused: {{reason}}')!.expr));
  t.same(refused.data.result.map((r) => r.metric.reason), ['request_limits'], 'the 413s are counted by reason');

  // The dashboard's variables: label_values(warm_serve_requests_total, job / instance).
  const labels = async (name: string) => ((await (await fetch(`${api}/label/${name}/values?match[]=warm_serve_requests_total`)).json()) as { data: string[] }).data;
  t.same(await labels('job'), ['warm-serve']);
  t.same(await labels('instance'), [host]);

  // The alert rules loaded and evaluated against the real series without errors, and none fires
  // on a healthy server.
  const rules = (await (await fetch(`${api}/rules`)).json()) as { data: { groups: { rules: { name: string; health: string; state: string; lastError?: string }[] }[] } };
  const loaded = rules.data.groups.flatMap((g) => g.rules);
  t.equal(loaded.length, 5, 'five alert rules loaded');
  for (const rule of loaded) t.same([rule.health, rule.state], ['ok', 'inactive'], `${rule.name}: ${rule.lastError ?? 'evaluates'}`);

  running = false;
  await Promise.all(clients);
});

t.test('the alert rules pass their promtool unit tests', async (t) => {
  if (!PROMTOOL) {
    t.fail(NOT_INSTALLED);
    return;
  }
  const run = spawnSync(PROMTOOL, ['test', 'rules', 'alerts.test.yml'], { cwd: path.join(DOCKER, 'prometheus'), encoding: 'utf8' });
  t.equal(run.status, 0, run.stdout + run.stderr);
  t.match(run.stdout, /SUCCESS/);
});
