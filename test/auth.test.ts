/**
 * API-key authentication over real HTTP: keys from the settings and from a file, Bearer and
 * Basic credentials, 401 with WWW-Authenticate in the one error body, public paths, the
 * compatibility routes, both clients, and the request limits with their 413s (JSON depth
 * included, up to 100k-deep bodies). The CLI refusals of bad key settings run the built CLI.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { WarmServeClient } from '../src/client/index.js';
import { loadServeConfig } from '../src/config/load.js';
import { ApiKeys, readApiKeyFile } from '../src/server/api-keys.js';
import { presentedKey } from '../src/server/auth.js';
import { startServer, type RunningServer } from '../src/server/start.js';
import { call, testConfig } from './helpers/http-call.js';
import { checkTiming } from './helpers/timing.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const KEY_A = 'a'.repeat(8) + '0123456789abcdef';
const KEY_B = 'b'.repeat(8) + 'fedcba9876543210';
const FILE_KEY = 'file-key-0123456789abcdef';

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const scoreBody = { items: [{ text: 'Once upon a time there was a cat.' }] };

function expectUnauthorized(t: Test, res: Awaited<ReturnType<typeof call>>, invalid: boolean) {
  t.equal(res.status, 401);
  t.equal(res.json?.error_type, 'unauthorized');
  t.match(res.json?.error, invalid ? /API key is not accepted/ : /needs an API key and the request carries none/);
  t.match(res.json?.error, /Authorization: Bearer <key>/);
  t.type(res.json?.request_id, 'string');
  t.equal(res.headers.get('www-authenticate'), invalid ? 'Bearer realm="warm-serve", error="invalid_token"' : 'Bearer realm="warm-serve"');
}

let server: RunningServer;
let base: string;
t.before(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'warm-keys-'));
  const file = path.join(dir, 'keys.txt');
  writeFileSync(file, `# trainers\n${FILE_KEY}\n\n   # rotated out next week\n`);
  server = await startServer(
    testConfig({ api_keys: [KEY_A, KEY_B], api_keys_file: file, max_items_per_request: 4, max_completions_per_rank: 3, max_chars_per_item: 200, body_limit_bytes: 8192, max_json_depth: 8 }),
  );
  base = server.url;
});
t.teardown(() => server?.stop());

t.test('scoring needs a key; every configured key works', async (t) => {
  expectUnauthorized(t, await call(base, 'POST', '/v1/score', scoreBody), false);
  expectUnauthorized(t, await call(base, 'POST', '/v1/score', scoreBody, bearer('not-a-key-at-all-0000')), true);
  expectUnauthorized(t, await call(base, 'POST', '/v1/score', scoreBody, bearer(KEY_A.slice(0, -1))), true);
  expectUnauthorized(t, await call(base, 'POST', '/v1/score', scoreBody, { authorization: KEY_A }), false);
  expectUnauthorized(t, await call(base, 'GET', '/v1/info'), false);
  expectUnauthorized(t, await call(base, 'GET', '/no/such/route'), false);
  const rewards: number[] = [];
  for (const key of [KEY_A, KEY_B, FILE_KEY]) {
    const res = await call(base, 'POST', '/v1/score', scoreBody, bearer(key));
    t.equal(res.status, 200, `key ${key.slice(0, 4)}... accepted`);
    rewards.push(res.json.rewards[0]);
  }
  t.equal(new Set(rewards).size, 1, 'same reward whichever key');
  t.equal((await call(base, 'POST', '/v1/score', scoreBody, { authorization: `bearer   ${KEY_B}` })).status, 200, 'scheme is case-insensitive');
  const basic = Buffer.from(`openrlhf:${KEY_A}`).toString('base64');
  t.equal((await call(base, 'POST', '/v1/score', scoreBody, { authorization: `Basic ${basic}` })).status, 200, 'Basic with the key as password');
  const metrics = (await call(base, 'GET', '/metrics')).text;
  t.match(metrics, /warm_serve_rejections_total\{reason="unauthorized"\} [1-9]/);
  t.match(metrics, /warm_serve_requests_total\{route="\/v1\/score",method="POST",status="401"\} [1-9]/);
});

t.test('probes, metrics and docs are public by default', async (t) => {
  for (const p of ['/health', '/ready', '/metrics', '/docs', '/docs/json', '/openapi.json']) {
    t.equal((await call(base, 'GET', p)).status, 200, `${p} without a key`);
  }
  // A public prefix in the raw URL does not open other routes.
  t.equal((await call(base, 'POST', '/health/../v1/score', scoreBody)).status, 401);
  t.equal((await call(base, 'GET', '/healthz')).status, 401);
});

t.test('a body is not read before the key is checked', async (t) => {
  const res = await call(base, 'POST', '/v1/score', '{"items": [', {});
  expectUnauthorized(t, res, false);
});

t.test('compatibility routes take the key too', async (t) => {
  const cases: [string, unknown][] = [
    ['/get_reward', { query: ['Once upon a time there was a cat.'] }],
    ['/predict', { inputs: 'Once upon a time there was a cat.' }],
    ['/rerank', { query: 'Once upon a time', texts: [' there was a cat.'] }],
    ['/classify', { model: 'm', input: ['Once upon a time there was a cat.'], use_activation: false }],
  ];
  for (const [route, body] of cases) {
    expectUnauthorized(t, await call(base, 'POST', route, body), false);
    t.equal((await call(base, 'POST', route, body, bearer(KEY_A))).status, 200, `${route} with the key`);
  }
});

t.test('TypeScript client: apiKey option', async (t) => {
  const good = new WarmServeClient({ baseUrl: base, apiKey: FILE_KEY, retryBudgetMs: 0 });
  const bad = new WarmServeClient({ baseUrl: base, apiKey: 'wrong-wrong-wrong-wrong', retryBudgetMs: 0 });
  t.teardown(async () => {
    await good.close();
    await bad.close();
  });
  t.equal((await good.score([{ text: 'a cat' }])).rewards.length, 1);
  await t.rejects(bad.score([{ text: 'a cat' }]), { status: 401, errorType: 'unauthorized' });
});

t.test('Python: WarmClient(api_key=...), the verl example, and OpenRLHF-style python-requests with the key in the URL', async (t) => {
  const python = '/usr/bin/python3';
  const url = new URL(base);
  const script = `
import sys, requests
sys.path.insert(0, "clients/python")
from warm_client import WarmClient, WarmServeError
base, key = sys.argv[1], sys.argv[2]
print("client", len(WarmClient(base, api_key=key, retry_budget=0).rewards([{"text": "a cat"}])))
try:
    WarmClient(base, retry_budget=0).rewards([{"text": "a cat"}])
except WarmServeError as err:
    print("nokey", err.status, err.error_type)
# OpenRLHF's request_api_wrapper: requests.post(url=url, json=data, headers={"Content-Type": ...})
r = requests.post(url=sys.argv[3], json={"query": ["a cat"], "prompts": ["a"], "labels": [""]}, headers={"Content-Type": "application/json"}, timeout=60)
print("openrlhf", r.status_code, len(r.json()["rewards"]))
sys.path.insert(0, "examples/verl")
from warm_reward import compute_score
print("verl", type(compute_score("d", " there was a cat.", None, {"prompt": "Once"}, url=base, api_key=key)).__name__)
`;
  const withKeyInUrl = `http://openrlhf:${FILE_KEY}@${url.host}/get_reward`;
  // Asynchronous: the server answering it lives in this process.
  const child = spawn(python, ['-c', script, base, KEY_B, withKeyInUrl], { cwd: ROOT, env: { ...process.env, WARM_SERVE_API_KEY: '' } });
  const run = { stdout: '', stderr: '', status: null as number | null };
  child.stdout.on('data', (c) => (run.stdout += c));
  child.stderr.on('data', (c) => (run.stderr += c));
  run.status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.equal(run.status, 0, run.stderr);
  t.match(run.stdout, /^client 1$/m);
  t.match(run.stdout, /^nokey 401 unauthorized$/m);
  t.match(run.stdout, /^openrlhf 200 1$/m, 'python-requests turns URL credentials into Basic auth');
  t.match(run.stdout, /^verl float$/m, 'the verl example sends api_key from reward_kwargs');
});

t.test('limits: each refused with 413 naming the limit', async (t) => {
  const auth = bearer(KEY_A);
  const refuse = async (p: string, body: unknown, message: RegExp) => {
    const res = await call(base, 'POST', p, body, auth);
    t.equal(res.status, 413, `${p}: ${message}`);
    t.equal(res.json?.error_type, 'payload_too_large');
    t.match(res.json?.error, message);
  };
  await refuse('/v1/score', { items: Array(5).fill({ text: 'a' }) }, /^items: 5 items exceeds the limit of 4 items; .*max_items_per_request/);
  await refuse('/v1/rank', { prompt: 'p', completions: ['a', 'b', 'c', 'd'] }, /^completions: 4 completions exceeds the limit of 3 .*max_completions_per_rank/);
  await refuse('/v1/score', { items: [{ text: 'x'.repeat(201) }] }, /^items\[0\]: 201 characters exceeds the limit of 200 .*max_chars_per_item/);
  await refuse('/v1/score', { items: [{ text: 'x'.repeat(9000) }] }, /^body: \d+ bytes exceeds the limit of 8192 bytes/);
  await refuse('/get_reward', { query: Array(5).fill('a') }, /^query: 5 items exceeds the limit of 4/);
  // Depth 9 > 8: the limit holds whatever the shape, known field or not.
  await refuse('/v1/score', { items: [{ messages: [{ role: 'user', content: 'a', x: [[[[['deep']]]]] }] }] }, /^body: JSON nested deeper than the limit of 8 levels; .*max_json_depth/);
  // Exactly at the limit is parsed (and then refused by the schema for the unknown field).
  const atLimit = await call(base, 'POST', '/v1/score', { items: [{ text: 'a', x: [[[[['ok']]]]] }] }, auth);
  t.equal(atLimit.status, 422, 'depth 8 passes the depth check');
  t.equal((await call(base, 'POST', '/v1/score', { items: [{ text: '[[[[[[[[[[{{{{{{{{{{' }] }, auth)).status, 200, 'brackets inside strings do not count');
});

t.test('key settings: parsing and refusals', async (t) => {
  t.same(presentedKey('Bearer abc'), 'abc');
  t.same(presentedKey(`Basic ${Buffer.from('u:p:q').toString('base64')}`), 'p:q');
  t.equal(presentedKey('Digest x'), undefined);
  t.equal(presentedKey('Bearer'), undefined);
  const keys = new ApiKeys([KEY_A]);
  t.ok(keys.accepts(KEY_A));
  t.notOk(keys.accepts(`${KEY_A}x`));
  t.notOk(keys.accepts(''));
  t.notOk(new ApiKeys([]).enabled);

  const env = { WARM_SERVE_API_KEYS: `${KEY_A}, ${KEY_B}` };
  const loaded = loadServeConfig([], env);
  t.same(!loaded.help && loaded.config.api_keys, [KEY_A, KEY_B], 'env list split on commas');
  t.throws(() => loadServeConfig([], { WARM_SERVE_API_KEYS: 'short' }), /api_keys \(from env WARM_SERVE_API_KEYS\): an API key needs at least 16 characters/);
  try {
    loadServeConfig([], { WARM_SERVE_API_KEYS: `${KEY_A},tiny-secret` });
  } catch (err) {
    t.notMatch((err as Error).message, /tiny-secret|aaaa/, 'the message never echoes keys');
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'warm-keys-'));
  writeFileSync(path.join(dir, 'empty.txt'), '# nothing yet\n');
  writeFileSync(path.join(dir, 'bad.txt'), `${KEY_A}\nwith space in the key here\n`);
  t.throws(() => readApiKeyFile(path.join(dir, 'empty.txt')), /no keys in it/);
  t.throws(() => readApiKeyFile(path.join(dir, 'bad.txt')), /bad\.txt line 2: .*except spaces/);
  t.throws(() => readApiKeyFile(path.join(dir, 'missing.txt')), /missing\.txt: cannot read it \(ENOENT\)/);

  // The CLI: an unreadable key file is a settings error (exit 2) and names the file.
  const cli = spawn(process.execPath, [path.join(ROOT, 'dist/cli/main.js'), 'serve', '--port', '0', '--host', '127.0.0.1', '--api-keys-file', path.join(dir, 'missing.txt')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  cli.stderr.on('data', (c) => (stderr += c));
  const code = await new Promise<number | null>((resolve) => cli.on('exit', resolve));
  t.equal(code, 2);
  t.match(stderr, /cannot start: api_keys_file .*missing\.txt: cannot read it/);
});

t.test('default settings: no key needed, and 100k-deep bodies are refused at once without a stack overflow', async (t) => {
  const open = await startServer(testConfig());
  t.teardown(() => open.stop());
  t.equal((await call(open.url, 'POST', '/v1/score', scoreBody)).status, 200);
  t.equal((await call(open.url, 'POST', '/v1/score', scoreBody, bearer('anything-at-all-here'))).status, 200, 'a stray header is ignored');
  const deep = ['['.repeat(100_000) + ']'.repeat(100_000), '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000), '['.repeat(100_000)];
  for (const [route, status] of [['/v1/score', 413], ['/classify', 400]] as const) {
    for (const body of deep) {
      const started = performance.now();
      const res = await call(open.url, 'POST', route, body);
      t.equal(res.status, status, `${route}: ${status} (vLLM's /classify answers request errors with 400)`);
      t.equal(res.json?.error_type, 'payload_too_large');
      t.match(res.json?.error, /^body: JSON nested deeper than the limit of 32 levels; .*\(max_json_depth\)/);
      const ms = performance.now() - started;
      await checkTiming(t, ms < 2000, `answered in ${ms.toFixed(0)} ms (< 2000)`);
    }
  }
  t.equal((await call(open.url, 'GET', '/health')).status, 200, 'still serving');
});
