// Closed-loop load: C clients, each sending one /v1/score request of one item and the next as
// soon as it is answered (a trainer scoring per sample), for a fixed time after a warm-up; the
// answers that arrive inside that window are counted, over the window's length. The
// items are distinct texts (scripts/gpu/items.mjs), so neither the reward cache nor a shared
// prefix spares a forward pass.
//
//   node scripts/gpu/load.mjs URL [--clients 64] [--seconds 10] [--warmup 3] [--lengths FILE]
//
// Prints one JSON line: items/s, latency p50/p99 (ms), errors, and the mean batch size from the
// server's /metrics. --lengths FILE writes the token count of each distinct item the server
// reported (for scripts/gpu/torch_peer.py).
import { writeFileSync } from 'node:fs';
import { texts } from './items.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const k = args.indexOf(name);
  return k >= 0 ? args[k + 1] : fallback;
};
const url = args[0];
const clients = Number(opt('--clients', 64));
const seconds = Number(opt('--seconds', 10));
const warmup = Number(opt('--warmup', 3));
const lengthsFile = opt('--lengths');
if (!url || url.startsWith('--')) {
  console.error('usage: node scripts/gpu/load.mjs URL [--clients 64] [--seconds 10] [--warmup 3] [--lengths FILE]');
  process.exit(2);
}

const pool = texts(4096, { seed: 23 });
const lengths = new Map();
let next = 0;
let counting = false;
let items = 0;
let errors = 0;
const latencies = [];

async function metric(name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

async function client(until) {
  while (performance.now() < until) {
    const i = next++ % pool.length;
    const start = performance.now();
    try {
      const res = await fetch(`${url}/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ items: [{ text: pool[i] }] }) });
      const json = await res.json();
      if (res.status !== 200) throw new Error(`${res.status}`);
      lengths.set(i, json.tokens[0]);
      if (counting && performance.now() <= until) {
        items++;
        latencies.push(performance.now() - start);
      }
    } catch {
      if (counting && performance.now() <= until) errors++;
    }
  }
}

const begin = performance.now();
const end = begin + (warmup + seconds) * 1000;
const running = Array.from({ length: clients }, () => client(end));
await new Promise((resolve) => setTimeout(resolve, warmup * 1000));
const [sum0, count0] = [await metric('warm_serve_batch_size_sum'), await metric('warm_serve_batch_size_count')];
counting = true;
const counted = performance.now();
await new Promise((resolve) => setTimeout(resolve, Math.max(0, end - counted)));
const wall = (end - counted) / 1000;
const [sum1, count1] = [await metric('warm_serve_batch_size_sum'), await metric('warm_serve_batch_size_count')];
await Promise.all(running);
latencies.sort((x, y) => x - y);
const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : NaN);
if (lengthsFile) writeFileSync(lengthsFile, JSON.stringify([...lengths.values()]));
console.log(JSON.stringify({ clients, seconds: wall, items, items_per_s: items / wall, errors, p50_ms: pct(0.5), p99_ms: pct(0.99), mean_batch: (sum1 - sum0) / (count1 - count0) }));
