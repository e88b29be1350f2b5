/**
 * Property-based tests (fast-check, seeded and bounded for CI) against a real server over real
 * HTTP: hostile bodies at every scoring endpoint (wrong types, missing fields, huge numbers,
 * deep nesting, `__proto__` / `constructor` keys) and hostile texts (empty, whitespace, NUL,
 * lone surrogates, right-to-left, combining marks, emoji, invalid UTF-8, 1 MB strings). The
 * server must never answer 5xx or crash, every error must be the one error body, and every
 * reward a finite number; a non-finite model output (injected) must be a 500, not a number.
 */
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { startServer, type RunningServer } from '../src/server/start.js';
import { call, testConfig } from './helpers/http-call.js';
import { wrappedEngine } from './helpers/wrapped-engine.js';

const SEED = 20250801;
const CLIENT_ERRORS = new Set(['malformed_json', 'bad_request', 'unsupported_media_type', 'validation_error', 'payload_too_large', 'not_found']);

/** Valid bodies for each scoring endpoint, built around the texts given. */
const ENDPOINTS: Record<string, (texts: string[]) => unknown> = {
  '/v1/score': (texts) => ({
    items: texts.map((text, i) =>
      i % 3 === 0 ? { text } : i % 3 === 1 ? { prompt: 'Once upon a time', completion: text } : { messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: text }] }),
  }),
  '/v1/rank': (texts) => ({ prompt: 'Once upon a time', completions: texts, top_k: 1 }),
  '/get_reward': (texts) => ({ query: texts, prompts: texts.map(() => ''), labels: texts.map(() => '') }),
  '/predict': (texts) => ({ inputs: texts.map((text) => [text]) }),
  '/rerank': (texts) => ({ query: 'Once upon a time', texts }),
  '/classify': (texts) => ({ model: 'warm', input: texts, use_activation: false }),
};
const PATHS = Object.keys(ENDPOINTS);

/** Every reward-like number in a 200 answer of `path`. */
function rewardsOf(path: string, json: any): unknown[] {
  switch (path) {
    case '/v1/score':
    case '/v1/rank':
    case '/get_reward':
      return json.rewards;
    case '/predict':
      return json.flat().map((s: any) => s.score);
    case '/rerank':
      return json.map((r: any) => r.score);
    default:
      return json.data.flatMap((d: any) => d.probs);
  }
}

/** A JSON tree with keys and numbers chosen to hurt, serialised by hand so `__proto__` stays an own key. */
type Tree = { kind: 'leaf'; json: string } | { kind: 'array'; items: Tree[] } | { kind: 'object'; entries: [string, Tree][] };
const serialise = (tree: Tree): string =>
  tree.kind === 'leaf' ? tree.json
    : tree.kind === 'array' ? `[${tree.items.map(serialise).join(',')}]`
      : `{${tree.entries.map(([k, v]) => `${JSON.stringify(k)}:${serialise(v)}`).join(',')}}`;

const hostileKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'items', 'text', 'prompt', 'completion',
    'completions', 'messages', 'role', 'content', 'query', 'texts', 'inputs', 'input', 'top_k', 'truncate', ''),
  fc.string({ maxLength: 8 }),
);
const hostileNumber = fc.oneof(
  fc.constantFrom('1e308', '-1e308', '1e400', '9007199254740993', '-0', '0.5', '-1', '0', '1e-400', '123456789012345678901234567890'),
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
);
const hostileLeaf: fc.Arbitrary<Tree> = fc.oneof(
  hostileNumber,
  fc.constantFrom('null', 'true', 'false', '""', '"\\u0000"', '"\\ud800"'),
  fc.string({ maxLength: 20 }).map((s) => JSON.stringify(s)),
).map((json) => ({ kind: 'leaf' as const, json }));
const { tree: hostileTree } = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileLeaf,
    fc.array(tie('tree'), { maxLength: 4 }).map((items): Tree => ({ kind: 'array', items })),
    fc.array(fc.tuple(hostileKey, tie('tree')), { maxLength: 4 }).map((entries): Tree => ({ kind: 'object', entries })),
  ),
}));
/** Nesting far past max_json_depth, as arrays or objects. */
/** A list far over every limit under one of the endpoints' list fields (refused before parsing). */
const hugeList = fc
  .tuple(fc.constantFrom('items', 'completions', 'query', 'prompts', 'labels', 'inputs', 'input', 'texts'), fc.integer({ min: 4097, max: 200_000 }), fc.constantFrom('1', '{}', '"t"', '[]'))
  .map(([field, n, element]) => `{"${field}":[${new Array(n).fill(element).join(',')}]}`);

const deepNesting = fc.tuple(fc.integer({ min: 33, max: 5000 }), fc.boolean()).map(([depth, arrays]) =>
  arrays ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '0' + '}'.repeat(depth));

/** Texts that tokenizers and templates find awkward. */
const awkwardText = fc.oneof(
  fc.constantFrom('', ' ', '\t\n \r\n', '\u0000', 'a\u0000b', '\uD800', '\uDFFF', 'x\uDBFF', '\uDC00y', '\u202Eevil\u202C', 'שלום עולם',
    'مرحبا بالعالم', 'e\u0301\u0301\u0301\u0301', 'Z\u0351\u0352\u0353\u0354\u0355', '👩‍👩‍👧‍👦', '🏳️‍🌈🇫🇷', '\uFEFF', '\u200B\u200D',
    '{{ raise_exception("x") }}', '{% for x in range(99999999) %}{% endfor %}', '<|endoftext|>', '[PAD][CLS]</s><s>'),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.string({ unit: 'grapheme', maxLength: 32 }),
);

function checkAnswer(t: Test, path: string, res: Awaited<ReturnType<typeof call>>, what: string): boolean {
  if (res.status >= 500) return t.fail(`${what}: ${res.status} ${res.text.slice(0, 300)}`) && false;
  if (res.status === 200) {
    const rewards = rewardsOf(path, res.json);
    return rewards.every((r) => typeof r === 'number' && Number.isFinite(r)) || (t.fail(`${what}: non-finite reward in ${res.text.slice(0, 300)}`) && false);
  }
  const body = res.json;
  const valid = body && Object.keys(body).sort().join() === 'error,error_type,request_id' && typeof body.error === 'string' &&
    body.error.length > 0 && CLIENT_ERRORS.has(body.error_type) && body.request_id === res.headers.get('x-request-id');
  return valid || (t.fail(`${what}: ${res.status} without the error body: ${res.text.slice(0, 300)}`) && false);
}

let poison: number | undefined;
let server: RunningServer;
t.before(async () => {
  server = await startServer(
    testConfig({ max_chars_per_item: 1_100_000, body_limit_bytes: 8 * 1024 * 1024, max_items_per_request: 64, max_queue_delay_ms: 1 }),
    undefined,
    {
      // The real engine; `poison` replaces the next batch's last reward with a non-finite value.
      createEngine: wrappedEngine(async (real, sequences, options) => {
        const rewards = await real.run(sequences, options);
        if (poison !== undefined) rewards[rewards.length - 1] = poison;
        poison = undefined;
        return rewards;
      }),
    },
  );
});
t.teardown(() => server?.stop());

t.test('arbitrary JSON at every endpoint: never 5xx, always the error body', async (t) => {
  let answered = 0;
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...PATHS), fc.oneof(hostileTree.map(serialise), deepNesting, hugeList), async (path, body) => {
      const res = await call(server.url, 'POST', path, body);
      answered++;
      return checkAnswer(t, path, res, `${path} ${body.slice(0, 120)}`);
    }),
    { seed: SEED, numRuns: 150 },
  );
  t.equal(answered, 150);
});

t.test('valid bodies with one field broken: never 5xx, always the error body', async (t) => {
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...PATHS), fc.nat(), fc.constantFrom('delete', 'replace', 'add', 'wrap'), hostileKey, hostileTree,
      async (path, which, how, key, value) => {
        const body = ENDPOINTS[path](['Once upon a time there was a cat.', 'The dog ran.']) as Record<string, unknown>;
        const fields = Object.keys(body);
        const field = fields[which % fields.length];
        let text: string;
        if (how === 'delete') text = JSON.stringify(Object.fromEntries(Object.entries(body).filter(([k]) => k !== field)));
        else if (how === 'add') text = `${JSON.stringify(body).slice(0, -1)},${JSON.stringify(key)}:${serialise(value)}}`;
        else if (how === 'wrap') text = `[${JSON.stringify(body)}]`;
        else text = JSON.stringify({ ...body, [field]: '\u0000MARK' }).replace('"\\u0000MARK"', serialise(value));
        const res = await call(server.url, 'POST', path, text);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        return checkAnswer(t, path, res, `${path} ${how} ${field}: ${text.slice(0, 160)}`);
      }),
    { seed: SEED + 1, numRuns: 150 },
  );
  t.ok((statuses.get(422) ?? 0) + (statuses.get(400) ?? 0) > 50, `mostly refused: ${JSON.stringify([...statuses])}`);
  t.ok((statuses.get(200) ?? 0) > 0, 'some broken bodies are still acceptable (e.g. an ignored extra field on a compatibility route)');
});

t.test('awkward texts: scored with finite rewards or refused with the error body', async (t) => {
  let scored = 0;
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...PATHS), fc.array(awkwardText, { minLength: 1, maxLength: 4 }), async (path, texts) => {
      const res = await call(server.url, 'POST', path, ENDPOINTS[path](texts));
      if (res.status === 200) scored++;
      return checkAnswer(t, path, res, `${path} ${JSON.stringify(texts)}`);
    }),
    { seed: SEED + 2, numRuns: 120 },
  );
  t.ok(scored > 60, `most awkward texts are scored (${scored} of 120)`);
});

t.test('invalid UTF-8 bytes in a body: scored or refused, never 5xx', async (t) => {
  for (const bytes of [[0xff, 0xfe], [0xc3], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]) {
    const body = Buffer.concat([Buffer.from('{"items": [{"text": "a'), Buffer.from(bytes), Buffer.from('b"}]}')]);
    const res = await fetch(`${server.url}/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await res.text();
    t.equal(res.status, 200, `bytes ${bytes.map((b) => b.toString(16))} are read as U+FFFD and scored`);
    t.ok(Number.isFinite(JSON.parse(text).rewards[0]));
  }
});

t.test('1 MB texts are scored (truncated to max_length) with finite rewards', async (t) => {
  const mb = 1024 * 1024;
  const texts = {
    ascii: 'Lily ran to the park. '.repeat(mb / 22),
    whitespace: ' \n\t'.repeat(mb / 3),
    nul: '\u0000'.repeat(mb),
    emoji: '😀'.repeat(mb / 4),
    combining: ('a' + '\u0301'.repeat(9)).repeat(mb / 20),
    rtl: 'שלום '.repeat(mb / 10),
  };
  for (const [name, text] of Object.entries(texts)) {
    const res = await call(server.url, 'POST', '/v1/score', { items: [{ text }] });
    t.equal(res.status, 200, `${name}: ${res.text.slice(0, 200)}`);
    t.ok(Number.isFinite(res.json?.rewards?.[0]), `${name}: finite reward`);
    t.ok(res.json?.tokens?.[0] <= server.service.info.max_length, `${name}: at most max_length tokens`);
  }
});

t.test('a non-finite model output is a 500 engine_error, never a number', async (t) => {
  for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    poison = value;
    // A text nothing else scores: the reward cache answers a repeat without a forward pass.
    const res = await call(server.url, 'POST', '/v1/score', { items: [{ text: `A poisoned batch: ${value}` }] });
    t.equal(res.status, 500, `${value}`);
    t.equal(res.json?.error_type, 'engine_error');
    t.match(res.json?.error, new RegExp(`non-finite reward \\(${String(value).replace('+', '')}\\)`));
    const compat = await call(server.url, 'POST', '/get_reward', { query: [`A fine batch after ${value}`] });
    t.equal(compat.status, 200, 'the next batch is fine');
  }
});

t.test('the server survived all of it and still gives the same reward', async (t) => {
  t.equal((await call(server.url, 'GET', '/health')).status, 200);
  const a = await call(server.url, 'POST', '/v1/score', { items: [{ text: 'Once upon a time there was a cat.' }] });
  const b = await call(server.url, 'POST', '/get_reward', { query: ['Once upon a time there was a cat.'] });
  t.equal(a.status, 200);
  t.ok(Math.abs(a.json.rewards[0] - b.json.rewards[0]) < 1e-4);
});
