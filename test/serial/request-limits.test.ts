/**
 * Issue 19's findings against a `warm-serve serve` process: one request must not stall the
 * replica. Bodies whose lists exceed a limit are refused before validation; bad items cost the
 * work of the first one; chat templates render off the event loop under a time budget; slow or
 * stalled bodies time out; open connections are capped.
 * While each big request is in flight, /health is polled every 10 ms from this process and its
 * slowest answer is kept.
 * In test/serial: the /health latency bound is about the server's event loop, so no other test
 * file may load the 2 cores meanwhile.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { call } from '../helpers/http-call.js';
import { referenceCopy } from '../helpers/reference-copy.js';
import { openSocket, serve, untilReady } from '../helpers/serve-process.js';
import { checkTiming, idleServerLoad } from '../helpers/timing.js';

const BASE_ARGS = ['--host', '127.0.0.1', '--port', '0'];
/** The bound for /health while one big request is being handled. */
const HEALTH_MS = 50;

async function startServe(t: Test, args: string[] = []): Promise<string> {
  const url = await untilReady(t, serve([...BASE_ARGS, ...args]));
  await fetch(`${url}/health`).then((res) => res.text()); // this process's first fetch sets undici up
  return url;
}

/**
 * `slowestMs` < `boundMs`. A miss is measured once more with `again` (the same request): a stall
 * the server causes repeats, a scheduling blip of a shared machine (or of this process, which
 * both sends the big body and probes) seldom does. A second miss fails only on a machine measured
 * quiet (test/helpers/timing.ts). Busy here = an idle server's slowest /health over 300 ms
 * exceeds 20 ms, or `machineLoad` finds the machine busy.
 */
async function checkLatency(t: Test, url: string, slowestMs: number, boundMs: number, what: string, again: () => Promise<number>): Promise<void> {
  let slowest = slowestMs;
  let retried = '';
  if (slowest >= boundMs) {
    slowest = await again();
    retried = ` (measured again: the first try's was ${slowestMs.toFixed(1)} ms)`;
  }
  const idleServer = idleServerLoad(async () => (await withHealthProbe(url, () => sleep(300))).slowestMs);
  await checkTiming(t, slowest < boundMs, `${what}: slowest /health ${slowest.toFixed(1)} ms < ${boundMs} ms${retried}`, idleServer);
}

/** The slowest /health answer while `work` runs. */
async function slowestDuring(url: string, work: () => Promise<unknown>): Promise<number> {
  return (await withHealthProbe(url, work)).slowestMs;
}

/** Run `work` while polling /health; resolves with its result and the slowest /health answer in ms. */
async function withHealthProbe<T>(url: string, work: () => Promise<T>): Promise<{ result: T; slowestMs: number }> {
  let slowestMs = 0;
  let done = false;
  const probe = (async () => {
    while (!done) {
      const start = performance.now();
      const res = await fetch(`${url}/health`);
      await res.text();
      slowestMs = Math.max(slowestMs, performance.now() - start);
      await sleep(10);
    }
  })();
  try {
    const result = await work();
    return { result, slowestMs };
  } finally {
    done = true;
    await probe;
  }
}

/** A JSON body built as text, so the test itself does not spend seconds in JSON.stringify. */
function repeated(element: string, n: number): string {
  return new Array(n).fill(element).join(',');
}

t.test('lists over their limit are refused before validation, in milliseconds', async (t) => {
  const url = await startServe(t);
  const over = 'a list of more than 4096 elements, beyond every list limit';
  const ids = (field: string) => new RegExp(`^${field}: a list of more than 131072 token ids; send fewer token ids; the tail is what is scored \\(max_ids_per_item\\)$`);
  const cases: [string, string, RegExp][] = [
    // Far over every list limit: refused while the raw body is scanned, before it is parsed.
    ['/v1/score', `{"items":[${repeated('{}', 1_300_000)}]}`, new RegExp(`^items: ${over}`)],
    ['/v1/score', `{"items":[{"messages":[${repeated('{}', 1_300_000)}]}]}`, new RegExp(`^items\\[0\\]\\.messages: ${over}`)],
    ['/predict', `{"inputs":[${repeated('["a"]', 650_000)}]}`, new RegExp(`^inputs: ${over}`)],
    ['/get_reward', `{"query":["a"],"prompts":[${repeated('"a"', 1_000_000)}]}`, new RegExp(`^prompts: ${over}`)],
    ['/classify', `{"input":[${repeated('{}', 1_300_000)}]}`, new RegExp(`^input: ${over}`)],
    ['/v1/rank', `{"prompt":"p","completions":[${repeated('"a"', 1_000_000)}]}`, new RegExp(`^completions: ${over}`)],
    // A list of numbers only is one item's token ids, with its own (larger) limit.
    ['/v1/score', `{"items":[${repeated('1', 2_000_000)}]}`, ids('items')],
    ['/get_reward', `{"query":["a"],"prompts":[${repeated('1', 2_000_000)}]}`, ids('prompts')],
    ['/classify', `{"input":[${repeated('1', 2_000_000)}]}`, ids('input')],
    // Over one route's limit: refused after parsing, before validation, with the exact count.
    ['/v1/score', `{"items":[${repeated('1', 4000)}]}`, /^items: 4000 items exceeds the limit of 256 items; split the request \(max_items_per_request\)$/],
    ['/v1/score', `{"items":[{"text":"a"},{"messages":[${repeated('{}', 2000)}]}]}`, /^items\[1\]\.messages: 2000 messages exceeds the limit of 1024 messages; send fewer messages \(max_messages_per_item\)$/],
    ['/rerank', `{"query":"q","texts":[${repeated('"t"', 200)}]}`, /^texts: 200 completions exceeds the limit of 64 completions; split the request \(max_completions_per_rank\)$/],
  ];
  for (const [path, body, message] of cases) {
    t.ok(body.length <= 4 * 1024 * 1024, `${path}: the body (${body.length} bytes) is within the body limit`);
    const { result, slowestMs } = await withHealthProbe(url, async () => {
      const start = performance.now();
      const res = await call(url, 'POST', path, body);
      return { ...res, ms: performance.now() - start };
    });
    const status = path === '/classify' ? 400 : 413; // vLLM answers request errors with 400
    t.equal(result.status, status, `${path}: ${status}`);
    t.match(result.json.error, message, `${path}: names the field and the limit`);
    await checkTiming(t, result.ms < 1000, `${path}: answered in ${result.ms.toFixed(0)} ms (< 1000; the 2M-item body took 77 s of validation before)`);
    await checkLatency(t, url, slowestMs, HEALTH_MS, path, () => slowestDuring(url, () => call(url, 'POST', path, body)));
  }
});

t.test('bad items cost the work of the first one; the message lists a few problems then counts', async (t) => {
  const url = await startServe(t);
  // 256 chat items of 1,024 empty messages: every one within the limits, every message invalid
  // (2 problems each, 524,288 in all: tens of seconds of zod on the event loop when all were collected).
  const item = `{"messages":[${repeated('{}', 1024)}]}`;
  const { result, slowestMs } = await withHealthProbe(url, async () => {
    const start = performance.now();
    const res = await call(url, 'POST', '/v1/score', `{"items":[${repeated(item, 256)}]}`);
    return { ...res, ms: performance.now() - start };
  });
  t.equal(result.status, 422);
  await checkTiming(t, result.ms < 1000, `answered in ${result.ms.toFixed(0)} ms (< 1000)`);
  t.match(result.json.error, /^items\[0\]\.messages\[0\]\.role: is required/, 'names the first bad field');
  t.match(result.json.error, /; and \d+ more$/, 'then counts the rest');
  // Parsing this 770 kB body (262,144 objects) takes tens of ms of its own: reported, not bounded.
  t.comment(`slowest /health ${slowestMs.toFixed(1)} ms`);
  t.equal((await call(url, 'POST', '/v1/score', { items: [{ text: 'still serving' }] })).status, 200);
});

t.test('chat templates render off the event loop', async (t) => {
  const url = await startServe(t);
  const conversation = Array.from({ length: 1024 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i}` }));
  // 17 items × 1,024 messages (the most max_messages_per_item allows) with the shipped template.
  const body = JSON.stringify({ items: Array.from({ length: 17 }, () => ({ messages: conversation })) });
  await call(url, 'POST', '/v1/score', body); // once first: the bound is for a warm (JIT-compiled) server
  const { result, slowestMs } = await withHealthProbe(url, () => call(url, 'POST', '/v1/score', body));
  t.equal(result.status, 200, '17 × 1,024 messages are scored');
  t.equal(new Set(result.json.rewards).size, 1, 'the same conversation gets the same reward in every item');
  // Parsing, validating and posting 17,408 messages to the rendering thread is ~40 ms of the
  // event loop on a 2-core machine (rendering itself, ~0.5 s, is on the thread).
  await checkLatency(t, url, slowestMs, 2 * HEALTH_MS, '17 × 1,024 messages', () => slowestDuring(url, () => call(url, 'POST', '/v1/score', body)));
  const alone = await call(url, 'POST', '/v1/score', { items: [{ messages: conversation }] });
  t.equal(alone.json.rewards[0], result.json.rewards[0], 'and the reward it gets alone');

  const tooMany = await call(url, 'POST', '/v1/score', { items: Array.from({ length: 17 }, () => ({ messages: Array(8192).fill({ role: 'user', content: 'x' }) })) });
  t.equal(tooMany.status, 413, "the issue's 17 × 8,192 messages exceed max_messages_per_item");
  t.match(tooMany.json.error, /^items\[0\]\.messages: a list of more than 4096 elements/);
});

/** A copy of the reference model with `chat_template` replaced. */
async function modelWithTemplate(t: Test, template: string): Promise<string> {
  const dir = await referenceCopy(t);
  const configFile = join(dir, 'tokenizer_config.json');
  const config = JSON.parse(await readFile(configFile, 'utf8'));
  config.chat_template = template;
  await writeFile(configFile, JSON.stringify(config));
  return dir;
}

t.test('a template that cannot render a short chat in its budget stops start-up', async (t) => {
  const model = await modelWithTemplate(t, '{% for i in range(3000000) %}{{ i }}{% endfor %}{{ messages[0].content }}');
  const child = serve([...BASE_ARGS, '--model', model, '--template-timeout-ms', '1000']);
  t.equal(await child.exit, 1, 'exit 1');
  t.match(child.stderr.join('\n'), /tokenizer_config\.json: chat_template failed on a two-message chat at start-up: .*within 1000 ms/);
});

t.test('a template that is slow for one request is cut off at template_timeout_ms; the server goes on', async (t) => {
  // Quadratic in the number of messages: instant for a short chat (so start-up passes), minutes for 1,024.
  const model = await modelWithTemplate(t, '{% for m in messages %}{% for n in messages %}{% for k in messages %}{% endfor %}{% endfor %}{% endfor %}{{ messages[-1].content }}');
  const url = await startServe(t, ['--model', model, '--template-timeout-ms', '1000']);
  const conversation = Array.from({ length: 1024 }, () => ({ role: 'user', content: 'x' }));
  const { result, slowestMs } = await withHealthProbe(url, async () => {
    const start = performance.now();
    const res = await call(url, 'POST', '/v1/score', { items: [{ messages: conversation }] });
    return { ...res, ms: performance.now() - start };
  });
  t.equal(result.status, 422);
  t.match(result.json.error, /^items\[0\]\.messages: the chat template did not render 1 conversation\(s\) within 1000 ms; send fewer or shorter messages \(template_timeout_ms\)$/);
  await checkTiming(t, result.ms < 3000, `refused after ${result.ms.toFixed(0)} ms (< 3000)`);
  await checkLatency(t, url, slowestMs, HEALTH_MS, 'while the template rendered', () =>
    slowestDuring(url, () => call(url, 'POST', '/v1/score', { items: [{ messages: conversation }] })),
  );
  const next = await call(url, 'POST', '/v1/score', { items: [{ messages: [{ role: 'user', content: 'short' }] }] });
  t.equal(next.status, 200, 'the next chat renders on a fresh thread');
});

/** Everything the server sends on `socket` until it closes it; with the time it closed. */
function untilClosed(socket: Socket): Promise<{ text: string; at: number }> {
  let text = '';
  socket.on('data', (chunk) => (text += chunk));
  socket.on('error', () => {});
  return new Promise((resolve) => socket.once('close', () => resolve({ text, at: performance.now() })));
}

t.test('stalled and trickled bodies time out at request_timeout_ms', async (t) => {
  const url = await startServe(t, ['--request-timeout-ms', '2000']);
  const head = (length: number) => `POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

  const stalled = await openSocket(t, url);
  const stalledClosed = untilClosed(stalled);
  const start = performance.now();
  stalled.write(head(1000) + '{"items":[');

  const trickled = await openSocket(t, url);
  const trickledClosed = untilClosed(trickled);
  trickled.write(head(1000));
  const timer = setInterval(() => trickled.writable && trickled.write(' '), 200);
  t.teardown(() => clearInterval(timer));

  for (const [name, closed] of [['stalled', stalledClosed], ['trickled', trickledClosed]] as const) {
    const { text, at } = await closed;
    const seconds = (at - start) / 1000;
    t.match(text, /^HTTP\/1\.1 408 /, `${name} body: 408 Request Timeout`);
    t.ok(seconds >= 1.9, `${name} body: not closed before the limit (${seconds.toFixed(1)} s, limit 2 s)`);
    await checkTiming(t, seconds < 4, `${name} body: closed after ${seconds.toFixed(1)} s (< 4: limit 2 s, checked every 1 s)`);
  }
  t.equal((await call(url, 'POST', '/v1/score', { items: [{ text: 'a prompt' }] })).status, 200, 'the server goes on');
});

t.test('open connections are capped at max_connections', async (t) => {
  // Not startServe: its warm-up fetch would keep a connection of its own open.
  const url = await untilReady(t, serve([...BASE_ARGS, '--max-connections', '8']));
  const sockets = await Promise.all(Array.from({ length: 20 }, () => openSocket(t, url)));
  const closed = sockets.map((s) => {
    let isClosed = false;
    s.on('error', () => {});
    s.once('close', () => (isClosed = true));
    return () => isClosed;
  });
  await sleep(500);
  const open = closed.filter((isClosed) => !isClosed()).length;
  t.equal(open, 8, `${open} of 20 connections stay open`);
  for (const s of sockets) s.destroy();
  await sleep(100);
  const metrics = (await call(url, 'GET', '/metrics')).text;
  t.match(metrics, /warm_serve_rejections_total\{reason="max_connections"\} 12/, 'the 12 dropped connections are counted');
});
