/**
 * `warm-serve serve` as a process: start-up failures exit non-zero with a clear message, and
 * SIGTERM drains (queued requests finish, /ready and new requests get 503, exit 0).
 * Runs the built CLI (dist/; `npm test` builds first).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { waitQueued } from './helpers/metrics.js';
import { openSocket, serve, untilReady } from './helpers/serve-process.js';

async function score(url: string, text: string) {
  const res = await fetch(`${url}/v1/score`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ items: [{ text }] }),
  });
  return {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    connection: res.headers.get('connection'),
    json: (await res.json()) as Record<string, any>,
  };
}

t.test('a missing model directory stops start-up: message and exit 1', async (t) => {
  const child = serve(['--host', '127.0.0.1', '--port', '0', '--model', '/nonexistent/model']);
  t.equal(await child.exit, 1);
  t.match(child.stderr.join('\n'), /cannot start: model \/nonexistent\/model: no such directory/);
  t.ok(child.lines.some((l) => l.level === 60 && /no such directory/.test(l.msg)), 'fatal log line');
});

t.test('a malformed model directory stops start-up: message and exit 1', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'warm-bad-model-'));
  writeFileSync(path.join(dir, 'config.json'), '{ not json');
  const child = serve(['--host', '127.0.0.1', '--port', '0', '--model', dir]);
  t.equal(await child.exit, 1);
  t.match(child.stderr.join('\n'), new RegExp(`cannot start: .*${path.basename(dir)}.*config\\.json`));
});

t.test('invalid settings: message naming the setting and exit 2', async (t) => {
  const child = serve(['--port', '0'], { WARM_SERVE_MAX_BATCH_SIZE: 'lots' });
  t.equal(await child.exit, 2);
  t.match(child.stderr.join('\n'), /max_batch_size \(from env WARM_SERVE_MAX_BATCH_SIZE\): .*"lots"/);
});

t.test('--help lists the settings and exits 0', async (t) => {
  const child = serve(['--help']);
  t.equal(await child.exit, 0);
  t.match(child.lines.map((l) => l.text).join('\n'), /--max-queue-delay-ms N/);
});

t.test('SIGTERM drains: queued requests finish, newcomers get 503, exit 0', async (t) => {
  // A long queue delay keeps the first requests queued while the signal arrives.
  const child = serve(['--host', '127.0.0.1', '--port', '0', '--max-queue-delay-ms', '900', '--drain-timeout-ms', '10000']);
  const url = await untilReady(t, child);
  t.equal((await fetch(`${url}/ready`)).status, 200);

  const queued = [score(url, 'first'), score(url, 'second'), score(url, 'third')];
  t.ok(await waitQueued(url, 3), 'three requests queued when the signal is sent');
  child.proc.kill('SIGTERM');
  await child.waitFor((l) => l.msg === 'draining');

  const ready = await fetch(`${url}/ready`);
  t.equal(ready.status, 503, '/ready is 503 while draining');
  t.same(await ready.json(), { status: 'draining' });
  const late = await score(url, 'too late');
  t.equal(late.status, 503);
  t.equal(late.json.error_type, 'draining');
  t.equal(late.retryAfter, '1');
  t.equal(late.connection, 'close', 'answers sent while draining close their connection (no keep-alive to wait for)');

  const results = await Promise.all(queued);
  t.same(results.map((r) => r.status), [200, 200, 200], 'queued requests completed');
  t.ok(results.every((r) => Number.isFinite(r.json.rewards[0])));
  t.equal(await child.exit, 0, 'exit 0 after draining');
  t.ok(child.lines.some((l) => l.msg === 'drained; bye'));
});


t.test('SIGTERM exits 0 promptly although clients keep connections open that carry no request', async (t) => {
  // An HTTP client keeps connections it opened but never sent on (undici does after a fetch
  // aborted while connecting) and keep-alive connections. Node counts the first kind as busy, so
  // a close that waited for them waited until the client hung up: past drain_timeout_ms, exit 1.
  const child = serve(['--host', '127.0.0.1', '--port', '0', '--max-queue-delay-ms', '300', '--drain-timeout-ms', '10000']);
  const url = await untilReady(t, child);
  const silent = await Promise.all([openSocket(t, url), openSocket(t, url)]);
  const closedByServer = silent.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())));
  const used = await openSocket(t, url);
  used.write(`GET /health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`);
  await new Promise((resolve) => used.once('data', resolve));

  const queued = score(url, 'answered while draining');
  t.ok(await waitQueued(url, 1), 'a request is queued when the signal is sent');
  const signalled = performance.now();
  child.proc.kill('SIGTERM');
  const exited = await Promise.race([child.exit, new Promise((resolve) => setTimeout(() => resolve('still running after 6 s'), 6000))]);
  t.equal(exited, 0, 'exit 0 well before drain_timeout_ms (10 s)');
  t.ok(child.lines.some((l) => l.msg === 'drained; bye'));
  const res = await queued;
  t.equal(res.status, 200, 'the queued request was answered');
  t.ok(Number.isFinite(res.json.rewards[0]));
  const closed = await Promise.race([Promise.all(closedByServer).then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 1000))]);
  t.ok(closed, `the server closed the unused connections; exit ${Math.round(performance.now() - signalled)} ms after SIGTERM`);
});

t.test('a client stuck halfway through its request does not keep the process past drain_timeout_ms', async (t) => {
  const child = serve(['--host', '127.0.0.1', '--port', '0', '--drain-timeout-ms', '1000']);
  const url = await untilReady(t, child);
  const stuck = await openSocket(t, url);
  stuck.write('POST /v1/score HTTP/1.1\r\nHost: x\r\n'); // headers never finished
  const cut = new Promise<void>((resolve) => stuck.once('close', () => resolve()));
  await new Promise((resolve) => setTimeout(resolve, 100));
  child.proc.kill('SIGTERM');
  const exited = await Promise.race([child.exit, new Promise((resolve) => setTimeout(() => resolve('still running after 5 s'), 5000))]);
  t.equal(exited, 1, 'exit 1 (work left) once the drain timeout passed, not when the client gives up');
  t.ok(child.lines.some((l) => /drain timeout passed/.test(l.msg)));
  t.ok(await Promise.race([cut.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 1000))]), 'its connection was cut');
});

t.test('a drain that outlasts drain_timeout_ms answers 503 draining and exits 1', async (t) => {
  const child = serve(['--host', '127.0.0.1', '--port', '0', '--max-queue-delay-ms', '1000', '--drain-timeout-ms', '100']);
  const url = await untilReady(t, child);
  const stranded = score(url, 'slow');
  t.ok(await waitQueued(url, 1), 'queued when the signal is sent');
  child.proc.kill('SIGTERM');
  const res = await stranded;
  t.equal(res.status, 503);
  t.equal(res.json.error_type, 'draining');
  t.equal(await child.exit, 1);
  t.ok(child.lines.some((l) => /drain timeout passed/.test(l.msg)));
});
