/**
 * Faults: an engine that fails one batch among concurrent requests (only the requests in that
 * batch get 500, the rest their rewards, and the server keeps serving); corrupt or missing model
 * files at start (the built CLI exits 1 naming the file); and a client that aborts a queued
 * multi-item request while others wait beside it (its items are never computed, the others are).
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { startServer } from '../src/server/start.js';
import { call, testConfig } from './helpers/http-call.js';
import { metric, waitQueued } from './helpers/metrics.js';
import { referenceCopy } from './helpers/reference-copy.js';
import { wrappedEngine } from './helpers/wrapped-engine.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REFERENCE = path.join(ROOT, 'models/reference');

t.test('an engine failure fails only the batch it hit; the server keeps serving', async (t) => {
  const POISON = 'This text makes the engine fail.';
  let poisonIds = '';
  const failedBatches: string[][] = [];
  let batches = 0;
  const server = await startServer(
    // No reward cache: the texts are scored once first, and a cache would answer them without the engine.
    testConfig({ max_batch_size: 4, max_queue_delay_ms: 30, reward_cache_items: 0 }),
    undefined,
    {
      createEngine: wrappedEngine(
        async (real, sequences, options) => {
          batches++;
          const keys = sequences.map((s) => s.join(','));
          if (keys.includes(poisonIds)) {
            failedBatches.push(keys);
            throw new Error('injected: device lost');
          }
          return real.run(sequences, options);
        },
        async (tokenizer) => {
          poisonIds = (await tokenizer.encode([POISON]))[0].ids.join(',');
        },
      ),
    },
  );
  t.teardown(() => server.stop());
  const texts = Array.from({ length: 15 }, (_, i) => `Story ${i}: Lily and her dog played in the park.`);
  const reference: number[] = [];
  for (const text of texts) reference.push((await call(server.url, 'POST', '/v1/score', { items: [{ text }] })).json.rewards[0]);
  const before = batches;

  const all = [...texts.slice(0, 7), POISON, ...texts.slice(7)];
  const results = await Promise.all(all.map((text) => call(server.url, 'POST', '/v1/score', { items: [{ text }] })));
  t.ok(batches - before > 1, `the ${all.length} requests ran in ${batches - before} batches`);
  t.equal(failedBatches.length, 1, 'one batch failed');
  const failedIds = new Set(failedBatches[0]);
  let ok = 0;
  for (const [i, res] of results.entries()) {
    const text = all[i];
    if (res.status === 200) {
      ok++;
      t.ok(Math.abs(res.json.rewards[0] - reference[texts.indexOf(text)]) < 1e-4, `request ${i} got its own reward`);
    } else {
      t.equal(res.status, 500, `request ${i} failed with 500`);
      t.equal(res.json.error_type, 'engine_error');
      t.match(res.json.error, /inference failed: injected: device lost; the server keeps serving, retry the request/);
    }
  }
  t.equal(results[7].status, 500, 'the poisoned request failed');
  t.equal(all.length - ok, failedIds.size, 'exactly the requests in the failed batch got 500');
  t.ok(ok >= all.length - 4, `the others succeeded (${ok} of ${all.length})`);
  t.equal(await metric(server.url, 'warm_serve_inference_failures_total'), 1);
  const after = await call(server.url, 'POST', '/v1/score', { items: [{ text: texts[0] }] });
  t.equal(after.status, 200, 'still serving');
  t.ok(Math.abs(after.json.rewards[0] - reference[0]) < 1e-4);
});

t.test('corrupt or missing model files stop start-up with exit 1 and a message naming the file', async (t) => {
  const onnx = readFileSync(path.join(REFERENCE, 'model.onnx'));
  const cases: [string, (dir: string) => void, RegExp][] = [
    ['truncated model.onnx', (d) => writeFileSync(path.join(d, 'model.onnx'), onnx.subarray(0, Math.floor(onnx.length / 3))), /model\.onnx: onnxruntime cannot load the graph.*Protobuf parsing failed/],
    ['garbage model.onnx', (d) => writeFileSync(path.join(d, 'model.onnx'), Buffer.alloc(4096, 0x5a)), /model\.onnx: onnxruntime cannot load the graph/],
    ['empty model.onnx', (d) => writeFileSync(path.join(d, 'model.onnx'), ''), /model\.onnx/],
    ['missing model.onnx', (d) => rmSync(path.join(d, 'model.onnx')), /model\.onnx: missing model\.onnx/],
    ['tokenizer.json not JSON', (d) => writeFileSync(path.join(d, 'tokenizer.json'), '{"version": "1.0", "model": {'), /tokenizer\.json: cannot load the tokenizer/],
    ['tokenizer.json of the wrong shape', (d) => writeFileSync(path.join(d, 'tokenizer.json'), '{"hello": "world"}'), /tokenizer\.json/],
    ['missing tokenizer.json', (d) => rmSync(path.join(d, 'tokenizer.json')), /tokenizer\.json/],
    ['warm.json not JSON', (d) => writeFileSync(path.join(d, 'warm.json'), '{"name": '), /warm\.json/],
    ['warm.json with a wrong field', (d) => writeFileSync(path.join(d, 'warm.json'), '{"name": 5}'), /warm\.json: invalid manifest warm\.json: name: /],
  ];
  for (const [name, corrupt, message] of cases) {
    const dir = await referenceCopy(t, { name: name.replaceAll(' ', '-') });
    corrupt(dir);
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/cli/main.js'), 'serve', '--host', '127.0.0.1', '--port', '0', '--model', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    t.equal(code, 1, `${name}: exit 1`);
    t.match(stderr, /^warm-serve serve: cannot start: model /, `${name}: says it cannot start`);
    t.match(stderr, message, `${name}: ${stderr.trim().slice(0, 200)}`);
  }
});

t.test('an aborted queued request is never computed; the requests beside it are', async (t) => {
  const server = await startServer(testConfig({ max_batch_size: 64, max_queue_delay_ms: 400 }));
  t.teardown(() => server.stop());
  const abort = new AbortController();
  const gone = fetch(`${server.url}/v1/score`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ items: Array.from({ length: 5 }, (_, i) => ({ text: `going away ${i}` })) }),
    signal: abort.signal,
  }).catch((err: Error) => err.name);
  t.ok(await waitQueued(server.url, 5), 'the five items are queued');
  const stays = call(server.url, 'POST', '/v1/score', { items: [{ text: 'staying 1' }, { text: 'staying 2' }] });
  t.ok(await waitQueued(server.url, 7), 'two more beside them');
  abort.abort();
  t.equal(await gone, 'AbortError');
  const res = await stays;
  t.equal(res.status, 200, 'the request beside it is answered');
  t.equal(res.json.rewards.length, 2);
  t.equal(await metric(server.url, 'warm_serve_scored_items_total'), 2, 'only its two items were scored');
  t.equal(await metric(server.url, 'warm_serve_abandoned_items_total'), 5, 'the aborted five were dropped');
  t.equal(await metric(server.url, 'warm_serve_batch_size_sum'), 2, 'no forward pass carried them');
});
