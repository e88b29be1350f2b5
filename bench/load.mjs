/**
 * Closed-loop load generator, run as its own process so it does not share the server's event
 * loop: `--concurrency` clients each send POST /v1/score, wait for the answer, and send the
 * next. Requests finished during the measured window count; the warm-up before it does not.
 * Prints one JSON object (items/s, requests/s, latency percentiles, the server's own timings).
 *
 *   node bench/load.mjs --url http://127.0.0.1:8000 --concurrency 64 [--seconds 10]
 *                       [--warmup 2] [--items-per-request 1] [--aggregate warm] [--pool 2000]
 *                       [--bodies FILE]
 *
 * --bodies FILE: the requests instead of sampled items, a JSON file {path, items_per_request,
 * bodies: [serialised body, ...]} (bench/grpo-data.mjs); the clients then take the bodies in
 * file order from one shared cursor (a work queue, as a trainer's workers send samples); should
 * they run out, the window ends at the last answer and `exhausted` says so.
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { readFileSync } from 'node:fs';
import { sampleItems } from './data.mjs';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    concurrency: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    'items-per-request': { type: 'string', default: '1' },
    aggregate: { type: 'string', default: 'warm' },
    pool: { type: 'string', default: '2000' },
    bodies: { type: 'string' },
  },
});
if (!values.url) throw new Error('--url is required');
const concurrency = Number(values.concurrency);
const given = values.bodies ? JSON.parse(readFileSync(values.bodies, 'utf8')) : undefined;
const perRequest = given ? given.items_per_request : Number(values['items-per-request']);
const path = given ? given.path : '/v1/score';
// Bodies are serialised up front so the generator spends its CPU on sending, not on JSON.
const bodies = given ? given.bodies : [];
if (!given) {
  const items = sampleItems(Number(values.pool));
  for (let i = 0; i + perRequest <= items.length; i += perRequest) {
    bodies.push(JSON.stringify({ items: items.slice(i, i + perRequest), aggregate: values.aggregate }));
  }
}
/** The next body for a client: its own stride through the list, or the shared cursor with --bodies (undefined when all are sent). */
let cursor = 0;
const nextIndex = (k) => (given ? (cursor < bodies.length ? cursor++ : undefined) : k % bodies.length);

const pool = new Pool(values.url, { connections: concurrency, pipelining: 1, keepAliveTimeout: 60_000 });
const start = performance.now();
const measureFrom = start + Number(values.warmup) * 1000;
let measureTo = measureFrom + Number(values.seconds) * 1000;
const latencies = [];
const server = { tokenize_ms: 0, queue_ms: 0, inference_ms: 0, total_ms: 0 };
let errors = 0;
let firstError;
let lastAnswer = 0;

async function client(offset) {
  for (let k = offset; performance.now() < measureTo; k += concurrency) {
    const index = nextIndex(k);
    if (index === undefined) break;
    const body = bodies[index];
    const t0 = performance.now();
    let ok = false;
    let timings;
    try {
      const res = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const text = await res.body.text();
      ok = res.statusCode === 200;
      if (ok) timings = JSON.parse(text).timings;
      else firstError ??= `${res.statusCode} ${text.slice(0, 200)}`;
    } catch (err) {
      firstError ??= err.message;
    }
    const t1 = performance.now();
    lastAnswer = t1;
    // Count what completes inside the window: with long queues (c=256 on a slow model) a
    // request may have started before it, and one still running at its end is cut off.
    if (t1 < measureFrom || t1 > measureTo) continue;
    if (!ok) {
      errors++;
      continue;
    }
    latencies.push(t1 - t0);
    for (const key of Object.keys(server)) server[key] += timings[key];
  }
}

// At the end of the window the connections are cut: the server drops the queued items of
// clients that went away, so the next run starts on an empty queue without waiting for them.
const cut = setTimeout(() => void pool.destroy().catch(() => {}), measureTo - performance.now() + 50);
await Promise.all(Array.from({ length: concurrency }, (_, i) => client(i)));
clearTimeout(cut);
// Every body answered before the window closed: the window ends at the last answer.
if (given && cursor >= bodies.length) measureTo = Math.min(measureTo, Math.max(measureFrom, lastAnswer));
await pool.destroy().catch(() => {});

latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length === 0 ? null : latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]);
const window = (measureTo - measureFrom) / 1000;
const n = latencies.length;
console.log(JSON.stringify({
  concurrency,
  path,
  bodies_sent: given ? cursor : undefined,
  // The bodies ran out before the window closed (the end of the run had fewer clients): too few given.
  exhausted: given ? cursor >= bodies.length : undefined,
  items_per_request: perRequest,
  aggregate: values.aggregate,
  seconds: window,
  requests: n,
  errors,
  first_error: firstError,
  requests_per_s: n / window,
  items_per_s: (n * perRequest) / window,
  latency_ms: { p50: pct(0.5), p95: pct(0.95), p99: pct(0.99), mean: n ? latencies.reduce((a, b) => a + b, 0) / n : null },
  // Means of the server's own per-request timings (response `timings`).
  server_ms: Object.fromEntries(Object.entries(server).map(([k, v]) => [k, n ? v / n : null])),
}));
