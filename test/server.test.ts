/**
 * The HTTP service end to end: the real reference model behind a real fastify server on an
 * ephemeral port, called over real HTTP with fetch. Engine failures are injected through the
 * scoring service's documented `createEngine` option, wrapping the real ONNX engine.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { buildApp } from '../src/server/app.js';
import { openApiDocument } from '../src/server/openapi.js';
import { startServer, type RunningServer } from '../src/server/start.js';
import { testConfig } from './helpers/http-call.js';
import { sample, waitQueued } from './helpers/metrics.js';
import { wrappedEngine } from './helpers/wrapped-engine.js';

type Json = Record<string, any>;

async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let json: Json = {};
  try {
    json = JSON.parse(text);
  } catch {
    // non-JSON bodies (metrics, docs) are checked as text
  }
  return { status: res.status, headers: res.headers, text, json };
}

function expectError(t: Test, res: Awaited<ReturnType<typeof call>>, status: number, type: string, message: RegExp) {
  t.equal(res.status, status, `status ${status} for ${type}`);
  t.equal(res.json.error_type, type);
  t.match(res.json.error, message);
  t.type(res.json.request_id, 'string');
  t.equal(res.headers.get('x-request-id'), res.json.request_id, 'request id echoed in the header');
}

// One server for most tests: small request limits so the 413s are cheap to provoke.
const logLines: Json[] = [];
const logStream = new Writable({
  write(chunk, _enc, done) {
    for (const line of String(chunk).split('\n')) if (line) logLines.push(JSON.parse(line));
    done();
  },
});
let failNextBatch = false;
let server: RunningServer;
let base: string;

t.before(async () => {
  server = await startServer(
    testConfig({
      max_items_per_request: 16,
      max_completions_per_rank: 8,
      max_chars_per_item: 4000,
      body_limit_bytes: 64 * 1024,
      max_queue_delay_ms: 25,
    }),
    pino({ level: 'info' }, logStream),
    {
      // The real engine, with a switch that fails the next forward pass (for the 500 test).
      createEngine: wrappedEngine((real, sequences) => {
        if (!failNextBatch) return real.run(sequences);
        failNextBatch = false;
        return Promise.reject(new Error('injected engine failure'));
      }),
    },
  );
  base = server.url;
});
t.teardown(() => server.stop());

t.test('POST /v1/score scores all three item shapes in request order', async (t) => {
  const items = [
    { prompt: 'Once upon a time', completion: ' there was a cat.' },
    { messages: [{ role: 'user', content: 'Tell me a story.' }, { role: 'assistant', content: 'Lily played outside.' }] },
    { text: 'Once upon a time there was a dog.' },
  ];
  const res = await call(base, 'POST', '/v1/score', { items }, { 'x-request-id': 'trainer-42' });
  t.equal(res.status, 200);
  t.equal(res.headers.get('x-request-id'), 'trainer-42', 'incoming x-request-id is honoured');
  t.equal(res.json.model, server.service.info.name);
  t.equal(res.json.rewards.length, 3);
  t.ok(res.json.rewards.every((r: number) => Number.isFinite(r)), 'finite rewards');
  t.same(res.json.truncated, [false, false, false]);
  t.ok(res.json.tokens.every((n: number) => Number.isInteger(n) && n > 3), 'token counts');
  for (const key of ['tokenize_ms', 'queue_ms', 'inference_ms', 'total_ms']) t.type(res.json.timings[key], 'number');

  // Each item alone gives the same reward as in the batch: order kept, padding masked out.
  for (let i = 0; i < items.length; i++) {
    const alone = await call(base, 'POST', '/v1/score', { items: [items[i]] });
    t.equal(alone.status, 200);
    t.ok(Math.abs(alone.json.rewards[0] - res.json.rewards[i]) < 1e-4, `item ${i} scores the same alone`);
  }
  const different = new Set(res.json.rewards.map((r: number) => r.toFixed(6)));
  t.equal(different.size, 3, 'different texts get different rewards');
});

t.test('long items are truncated to max_length, or refused with truncate: false', async (t) => {
  const maxLength = server.service.info.max_length;
  const long = { text: 'The little girl went to the park and played with her friends. '.repeat(40) };
  const res = await call(base, 'POST', '/v1/score', { items: [long, { text: 'short' }] });
  t.equal(res.status, 200);
  t.same(res.json.truncated, [true, false]);
  t.equal(res.json.tokens[0], maxLength);
  const refused = await call(base, 'POST', '/v1/score', { items: [{ text: 'short' }, long], truncate: false });
  expectError(t, refused, 422, 'validation_error', new RegExp(`items\\[1\\]: \\d+ tokens .* exceed max_length ${maxLength}`));
});

t.test('POST /v1/rank orders completions best first, consistent with /v1/score', async (t) => {
  const prompt = 'Once upon a time, ';
  const completions = ['there was a little girl named Lily.', 'xq zz qq', 'the sun was happy.', 'Lily'];
  const res = await call(base, 'POST', '/v1/rank', { prompt, completions });
  t.equal(res.status, 200);
  t.equal(res.json.ranking.length, 4);
  const rewards: number[] = res.json.ranking.map((r: Json) => r.reward);
  t.same(rewards, [...rewards].sort((a, b) => b - a), 'best first');
  t.same(res.json.ranking.map((r: Json) => r.index).sort(), [0, 1, 2, 3], 'every completion once');
  t.equal(res.json.best_index, res.json.ranking[0].index);
  const scored = await call(base, 'POST', '/v1/score', { items: completions.map((completion) => ({ prompt, completion })) });
  res.json.rewards.forEach((r: number, i: number) => t.ok(Math.abs(r - scored.json.rewards[i]) < 1e-4, `completion ${i}`));
  const best = scored.json.rewards.indexOf(Math.max(...scored.json.rewards));
  t.equal(res.json.best_index, best, 'best_index is the argmax of /v1/score');

  const top = await call(base, 'POST', '/v1/rank', { prompt, completions, top_k: 2 });
  t.same(top.json.ranking, res.json.ranking.slice(0, 2), 'top_k trims the ranking');
});

t.test('GET /v1/info, /health, /ready', async (t) => {
  const info = await call(base, 'GET', '/v1/info');
  t.equal(info.status, 200);
  t.equal(info.json.model, server.service.info.name);
  t.equal(info.json.max_length, server.service.info.max_length);
  t.equal(info.json.execution_provider, 'cpu');
  t.match(info.json.version, /^\d+\.\d+\.\d+/);
  t.same(info.json.inputs, ['input_ids', 'attention_mask']);
  t.type(info.json.members, Array);
  t.equal(info.json.batching.max_queue_delay_ms, 25);
  t.equal(info.json.limits.max_items_per_request, 16);
  t.same((await call(base, 'GET', '/health')).json, { status: 'ok' });
  const ready = await call(base, 'GET', '/ready');
  t.equal(ready.status, 200);
  t.same(ready.json, { status: 'ready' });
});

t.test('client errors: 400, 404, 413, 415, 422 in the one error format', async (t) => {
  expectError(t, await call(base, 'POST', '/v1/score', '{"items": [{"text": "a"}'), 400, 'malformed_json', /not valid JSON \(.*\)/);
  expectError(t, await call(base, 'POST', '/v1/score', ''), 400, 'malformed_json', /the body is empty/);
  expectError(t, await call(base, 'GET', '/v2/score'), 404, 'not_found', /no route GET \/v2\/score/);
  expectError(t, await call(base, 'POST', '/v1/score', 'text=a', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type', /application\/json/);

  expectError(t, await call(base, 'POST', '/v1/score', { items: [{ prompt: 'p' }] }), 422, 'validation_error', /^items\[0\]\.completion: is required/);
  expectError(t, await call(base, 'POST', '/v1/score', { items: [{ text: 'a' }, { messages: [{ role: 'user', content: 7 }] }] }),
    422, 'validation_error', /^items\[1\]\.messages\[0\]\.content: expected string, received number/);
  expectError(t, await call(base, 'POST', '/v1/score', { items: [{ txt: 'a' }] }), 422, 'validation_error', /items\[0\]: expected an object of one of the shapes/);
  expectError(t, await call(base, 'POST', '/v1/score', { items: [] }), 422, 'validation_error', /^items: .*>=1 items/);
  expectError(t, await call(base, 'POST', '/v1/score', { items: [{ text: 'a' }], truncation: false }), 422, 'validation_error', /unknown field\(s\) 'truncation'/);
  expectError(t, await call(base, 'POST', '/v1/rank', { prompt: 'p', completions: ['a'], top_k: 0 }), 422, 'validation_error', /^top_k: .*>=1/);

  const many = Array.from({ length: 17 }, () => ({ text: 'a' }));
  expectError(t, await call(base, 'POST', '/v1/score', { items: many }), 413, 'payload_too_large', /^items: 17 items exceeds the limit of 16 items.*max_items_per_request/);
  expectError(t, await call(base, 'POST', '/v1/score', { items: [{ text: 'a' }, { prompt: 'x'.repeat(3000), completion: 'y'.repeat(1001) }] }),
    413, 'payload_too_large', /^items\[1\]: 4001 characters exceeds the limit of 4000 characters/);
  expectError(t, await call(base, 'POST', '/v1/rank', { prompt: 'p', completions: Array(9).fill('c') }), 413, 'payload_too_large', /^completions: 9 completions exceeds the limit of 8/);
  expectError(t, await call(base, 'POST', '/v1/score', { items: [{ text: 'z'.repeat(70 * 1024) }] }), 413, 'payload_too_large', /^body: \d+ bytes exceeds the limit of 65536 bytes/);
});

t.test('an engine failure is a 500, and the server keeps serving', async (t) => {
  failNextBatch = true;
  const failed = await call(base, 'POST', '/v1/score', { items: [{ text: 'boom' }] });
  expectError(t, failed, 500, 'engine_error', /inference failed: injected engine failure; the server keeps serving/);
  const next = await call(base, 'POST', '/v1/score', { items: [{ text: 'fine' }] });
  t.equal(next.status, 200);
  const metrics = (await call(base, 'GET', '/metrics')).text;
  t.equal(sample(metrics, 'warm_serve_inference_failures_total'), 1);
});

t.test('concurrent single-item requests share forward passes', async (t) => {
  const before = (await call(base, 'GET', '/metrics')).text;
  const n = 12;
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) => call(base, 'POST', '/v1/score', { items: [{ text: `Story number ${i} about a cat.` }] })),
  );
  t.ok(results.every((r) => r.status === 200), 'all scored');
  const after = (await call(base, 'GET', '/metrics')).text;
  const batches = sample(after, 'warm_serve_batch_size_count') - sample(before, 'warm_serve_batch_size_count');
  const items = sample(after, 'warm_serve_batch_size_sum') - sample(before, 'warm_serve_batch_size_sum');
  const singles = sample(after, 'warm_serve_batch_size_bucket', 'le="1"') - sample(before, 'warm_serve_batch_size_bucket', 'le="1"');
  t.equal(items, n, 'every item went through a batch');
  t.ok(batches < n, `${n} requests in ${batches} batches`);
  t.ok(singles < batches, 'at least one batch held more than one item');
});

t.test('GET /metrics exports the documented metrics', async (t) => {
  const res = await call(base, 'GET', '/metrics');
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/plain/);
  for (const name of [
    'warm_serve_requests_total',
    'warm_serve_request_duration_seconds_bucket',
    'warm_serve_tokenization_duration_seconds_count',
    'warm_serve_queue_duration_seconds_count',
    'warm_serve_inference_duration_seconds_count',
    'warm_serve_batch_size_bucket',
    'warm_serve_batch_tokens_bucket',
    'warm_serve_batch_padding_ratio_bucket',
    'warm_serve_queue_items',
    'warm_serve_queue_tokens',
    'warm_serve_scored_items_total',
    'process_cpu_seconds_total',
    'nodejs_eventloop_lag_p99_seconds',
  ]) {
    t.match(res.text, new RegExp(`^${name}[ {]`, 'm'), name);
  }
  t.ok(sample(res.text, 'warm_serve_requests_total', 'route="/v1/score",method="POST",status="200"') >= 5, 'requests by route and status');
  t.ok(sample(res.text, 'warm_serve_requests_total', 'status="413"') >= 4);
  t.ok(sample(res.text, 'warm_serve_rejections_total', 'reason="request_limits"') >= 3, 'limit refusals counted');
  t.ok(sample(res.text, 'warm_serve_requests_total', 'route="unmatched"') >= 1, 'unknown routes share one label');
});

t.test('GET /docs serves Swagger UI and /openapi.json the generated spec', async (t) => {
  const docs = await call(base, 'GET', '/docs');
  t.equal(docs.status, 200);
  t.match(docs.text, /swagger-ui/i);
  const spec = await call(base, 'GET', '/openapi.json');
  t.equal(spec.status, 200);
  t.same(spec.json, await openApiDocument());
});

t.test('one summary log line per request, with the request id', async (t) => {
  logLines.length = 0;
  await call(base, 'POST', '/v1/score', { items: [{ text: 'a' }, { text: 'b' }] }, { 'x-request-id': 'log-me' });
  const lines = logLines.filter((l) => l.reqId === 'log-me');
  t.equal(lines.length, 1, 'exactly one line (no fastify incoming/completed pair)');
  t.match(lines[0], { msg: 'request', route: '/v1/score', method: 'POST', status: 200, items: 2 });
  for (const key of ['tokens', 'tokenize_ms', 'queue_ms', 'inference_ms', 'total_ms']) t.type(lines[0][key], 'number', key);
});

t.test('overload: a full queue answers 503 with Retry-After', async (t) => {
  // Two queued items fill the queue; the long queue delay keeps them there while we knock.
  const busy = await startServer(testConfig({ max_queue_items: 2, max_batch_size: 8, max_queue_delay_ms: 800 }));
  t.teardown(() => busy.stop());
  const first = call(busy.url, 'POST', '/v1/score', { items: [{ text: 'one' }, { text: 'two' }] });
  t.ok(await waitQueued(busy.url, 2), 'queue full before the third item arrives');
  const refused = await call(busy.url, 'POST', '/v1/score', { items: [{ text: 'three' }] });
  expectError(t, refused, 503, 'overloaded', /server overloaded \(2 items queued, max_queue_items=2\); retry after \d+ s/);
  t.match(refused.headers.get('retry-after'), /^\d+$/);
  t.equal((await first).status, 200, 'the queued request still completes');
  const metrics = (await call(busy.url, 'GET', '/metrics')).text;
  t.equal(sample(metrics, 'warm_serve_rejections_total', 'reason="queue_items"'), 1);
});

t.test('before the model is ready: /ready and scoring answer 503, /health 200', async (t) => {
  const { app } = await buildApp({ config: testConfig() });
  t.teardown(() => app.close());
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.equal((await call(url, 'GET', '/health')).status, 200);
  const ready = await call(url, 'GET', '/ready');
  t.equal(ready.status, 503);
  t.same(ready.json, { status: 'starting' });
  const score = await call(url, 'POST', '/v1/score', { items: [{ text: 'a' }] });
  expectError(t, score, 503, 'not_ready', /still loading/);
  t.equal(score.headers.get('retry-after'), '1');
  expectError(t, await call(url, 'GET', '/v1/info'), 503, 'not_ready', /still loading/);
});

t.test('items that wait past queue_timeout_ms get 503 queue_timeout with Retry-After', async (t) => {
  const slow = await startServer(testConfig({ max_batch_size: 8, max_queue_delay_ms: 1000, queue_timeout_ms: 100 }));
  t.teardown(() => slow.stop());
  const res = await call(slow.url, 'POST', '/v1/score', { items: [{ text: 'patient' }] });
  expectError(t, res, 503, 'queue_timeout', /waited \d+ ms in the queue, over the 100 ms queue timeout/);
  t.match(res.headers.get('retry-after'), /^\d+$/);
  const metrics = (await call(slow.url, 'GET', '/metrics')).text;
  t.equal(sample(metrics, 'warm_serve_rejections_total', 'reason="queue_timeout"'), 1);
});

t.test('a client that disconnects while queued has its items dropped before inference', async (t) => {
  const patient = await startServer(testConfig({ max_batch_size: 8, max_queue_delay_ms: 600 }));
  t.teardown(() => patient.stop());
  const metricsText = async () => (await call(patient.url, 'GET', '/metrics')).text;
  const abort = new AbortController();
  const gone = fetch(`${patient.url}/v1/score`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ items: [{ text: 'never mind' }] }),
    signal: abort.signal,
  }).catch((err: Error) => err.name);
  t.ok(await waitQueued(patient.url, 1), 'queued');
  abort.abort();
  t.equal(await gone, 'AbortError');
  let dropped = 0;
  for (let i = 0; i < 100 && dropped === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    dropped = sample(await metricsText(), 'warm_serve_abandoned_items_total');
  }
  t.equal(dropped, 1, 'counted as abandoned');
  const text = await metricsText();
  t.equal(sample(text, 'warm_serve_queue_items'), 0);
  t.equal(sample(text, 'warm_serve_batch_size_count'), 0, 'no forward pass ran for it');
});
