/**
 * The TypeScript client (warm-serve/client) against real servers on real sockets: the reference
 * model for answers, a server still loading its model for 503 + Retry-After retries (it starts
 * loading on its first refusal, so a retry finds it ready), a socket that never answers for the timeout, and a
 * closed port for network failures.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { WarmServeClient, WarmServeClientError, type RetryEvent } from '../src/client/index.js';
import { buildApp } from '../src/server/app.js';
import { startServer, type RunningServer } from '../src/server/start.js';
import { call, testConfig } from './helpers/http-call.js';
import { LoadOnFirstRefusal } from './helpers/loading-state.js';
import { rejection } from './helpers/rejection.js';
import { checkTiming } from './helpers/timing.js';

let server: RunningServer;
let client: WarmServeClient;

t.before(async () => {
  server = await startServer(testConfig({ max_queue_delay_ms: 2 }));
  client = new WarmServeClient({ baseUrl: `${server.url}/` });
});
t.teardown(async () => {
  await client.close();
  await server.stop();
});

t.test('score, rank and info return what the HTTP API returns', async (t) => {
  const items = [{ prompt: 'Once upon a time', completion: ' there was a cat.' }, { text: 'The cat sat on the mat.' }];
  const scored = await client.score(items, { requestId: 'client-test-1' });
  const direct = await call(server.url, 'POST', '/v1/score', { items });
  t.same(scored.rewards, direct.json.rewards, 'same rewards as a plain HTTP call');
  t.same(scored.truncated, [false, false]);
  t.equal(scored.model, server.service.info.name);

  const ranked = await client.rank('Once upon a time', [' there was a dog.', ' zzz qqq', ' Lily found a ball.'], { top_k: 2 });
  t.equal(ranked.ranking.length, 2);
  t.equal(ranked.best_index, ranked.ranking[0].index);
  t.equal(ranked.rewards.length, 3);

  const info = await client.info();
  t.equal(info.model, server.service.info.name);
  t.equal(info.max_length, server.service.info.max_length);

  const exported = await import('warm-serve/client');
  t.type(exported.WarmServeClient, 'function', "package export 'warm-serve/client' resolves (built dist)");
});

t.test('a 422 is thrown at once with the server error body', async (t) => {
  const retries: RetryEvent[] = [];
  const strict = new WarmServeClient({ baseUrl: server.url, onRetry: (r) => retries.push(r) });
  t.teardown(() => strict.close());
  const err = await rejection(strict.score([{ prompt: 'no completion' } as never]), WarmServeClientError);
  t.equal(err.kind, 'http');
  t.equal(err.status, 422);
  t.equal(err.errorType, 'validation_error');
  t.match(err.message, /HTTP 422: items\[0\]\.completion: is required/);
  t.type(err.requestId, 'string');
  t.equal(err.attempts, 1);
  t.same(retries, [], 'client errors are not retried');
});

t.test('503 while the model loads: waits Retry-After and succeeds once the server is ready', async (t) => {
  const state = new LoadOnFirstRefusal(testConfig());
  const { app } = await buildApp({ config: testConfig(), state });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await app.close();
    await state.release();
  });
  const retries: RetryEvent[] = [];
  // A generous budget: loading the model under the test runner's TypeScript loader took 6-14 s on a busy 2-core machine.
  const patient = new WarmServeClient({ baseUrl: url, retryBudgetMs: 60_000, onRetry: (r) => retries.push(r) });
  t.teardown(() => patient.close());
  const started = Date.now();
  const res = await patient.score([{ text: 'hello' }]);
  t.equal(res.rewards.length, 1);
  t.ok(retries.length >= 1, 'retried');
  t.same(retries[0], { attempt: 1, status: 503, errorType: 'not_ready', waitMs: 1000 }, 'waits Retry-After: 1');
  t.ok(Date.now() - started >= 1000, 'waited the Retry-After');
});

t.test('503 beyond the retry budget: gives up with the last error', async (t) => {
  const { app } = await buildApp({ config: testConfig() });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());

  const hasty = new WarmServeClient({ baseUrl: url, retryBudgetMs: 500 });
  t.teardown(() => hasty.close());
  const started = Date.now();
  const first = await rejection(hasty.score([{ text: 'a' }]), WarmServeClientError);
  t.equal(first.status, 503);
  t.equal(first.errorType, 'not_ready');
  t.equal(first.attempts, 1, 'Retry-After 1 s does not fit a 500 ms budget: no retry');
  const ms = Date.now() - started;
  await checkTiming(t, ms < 500, `failed fast: ${ms} ms (< 500)`);

  const bounded = new WarmServeClient({ baseUrl: url, retryBudgetMs: 1500 });
  t.teardown(() => bounded.close());
  const second = await rejection(bounded.info(), WarmServeClientError);
  t.equal(second.attempts, 2, 'one retry fits 1.5 s, a second does not');
  t.match(second.message, /HTTP 503: .*still loading.* \(after 2 attempts\)/);
});

t.test('an attempt that gets no answer times out; a closed port is a network error', async (t) => {
  const silent: Server = createServer(() => {
    // never answers
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    silent.closeAllConnections();
    silent.close();
  });
  const port = (silent.address() as AddressInfo).port;
  const impatient = new WarmServeClient({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 200 });
  t.teardown(() => impatient.close());
  const started = Date.now();
  const err = await rejection(impatient.score([{ text: 'a' }]), WarmServeClientError);
  t.equal(err.kind, 'timeout');
  t.match(err.message, /no answer within 200 ms/);
  const elapsed = Date.now() - started;
  t.ok(elapsed >= 180, `not before the timeout: ${elapsed} ms (timeout 200 ms)`);
  await checkTiming(t, elapsed < 2000, `timed out after ${elapsed} ms (< 2000)`);

  silent.closeAllConnections();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
  // connection errors are retried within the budget (100, 200, 400 ms waits fit 1 s; 800 ms more does not)
  const retries: RetryEvent[] = [];
  const refused = new WarmServeClient({ baseUrl: `http://127.0.0.1:${port}`, backoffMs: 100, retryBudgetMs: 1000, onRetry: (r) => retries.push(r) });
  t.teardown(() => refused.close());
  const net = await rejection(refused.info(), WarmServeClientError);
  t.equal(net.kind, 'network');
  t.equal(net.status, 0);
  t.equal(net.attempts, 4);
  t.match(net.message, /\(after 4 attempts\)/);
  t.same(retries.map((r) => [r.status, r.errorType, r.waitMs]), [[0, 'network', 100], [0, 'network', 200], [0, 'network', 400]]);
  const noRetry = new WarmServeClient({ baseUrl: `http://127.0.0.1:${port}`, retryBudgetMs: 0 });
  t.teardown(() => noRetry.close());
  t.equal((await rejection(noRetry.info(), WarmServeClientError)).attempts, 1, 'retryBudgetMs 0: no retry');
});
