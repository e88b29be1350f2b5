/**
 * The error catalogue (src/errors.ts): one table gives every error type its status, exit status,
 * message and hint; errors carry structured fields that code reads instead of parsing messages;
 * the README's error table is the generated one.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CATALOGUE, ConfigError, errorMarkdownTable, errors, WarmServeError, type ErrorType } from '../src/errors.js';

const ROOT = path.join(import.meta.dirname, '..');

t.test('every type has an HTTP status or a CLI exit status, and says when it happens and what to do', async (t) => {
  for (const [type, entry] of Object.entries(CATALOGUE)) {
    t.ok(entry.status !== undefined || entry.exit !== undefined, `${type}: status or exit`);
    t.ok(entry.when.length > 0, `${type}: when`);
    t.ok((entry.todo ?? entry.hint) !== undefined, `${type}: what to do`);
  }
  const types = Object.keys(CATALOGUE) as ErrorType[];
  for (const type of ['bad_request', 'client_closed', 'model_error', 'merge_error', 'config_error'] as const) t.ok(types.includes(type), type);
});

t.test('messages are rendered from the template, the fields and the hint', async (t) => {
  const cases: [WarmServeError, number, string][] = [
    [errors.malformedJson('Unexpected end of JSON input'), 400, 'request body is not valid JSON (Unexpected end of JSON input); send one JSON object'],
    [errors.tooLarge(['items', 2], 4000, 4001, 'characters', 'shorten the text (max_chars_per_item)'), 413,
      'items[2]: 4001 characters exceeds the limit of 4000 characters; shorten the text (max_chars_per_item)'],
    [errors.tooDeep(32), 413, 'body: JSON nested deeper than the limit of 32 levels; send a flatter request (max_json_depth)'],
    [errors.tooManyElements('items[0].messages', 4096), 413,
      'items[0].messages: a list of more than 4096 elements, beyond every list limit (max_items_per_request, max_completions_per_rank, max_messages_per_item); split the request'],
    [errors.validation(['items', 1, 'messages', 0, 'content'], 'expected string'), 422, 'items[1].messages[0].content: expected string'],
    [errors.overloaded('64 items queued, max_queue_items=64', 3), 503, 'server overloaded (64 items queued, max_queue_items=64); retry after 3 s'],
    [errors.notFound('GET', '/v1/scores'), 404, 'no route GET /v1/scores; the API is POST /v1/score, POST /v1/rank, GET /v1/info (docs at GET /docs)'],
    [errors.merge('a', 'w.0', 'dtype F16 differs'), 500, "a tensor 'w.0': dtype F16 differs"],
  ];
  for (const [err, status, message] of cases) {
    t.equal(err.message, message, err.type);
    t.equal(err.status, status, `${err.type}: status`);
  }
  t.equal(errors.overloaded('x', 3).retryAfterSeconds, 3, 'Retry-After from the fields');
  t.equal(errors.draining().retryAfterSeconds, 1);
});

t.test('an item error carries its index and limit; relabelling renders it again', async (t) => {
  const err = errors.itemTooLong(3, 400, 128);
  t.equal(err.message, 'items[3]: 400 tokens (special tokens included) exceed max_length 128; shorten the item or allow truncation (truncate: true)');
  t.same([err.type, err.index, err.field, err.fields.limit, err.fields.setting], ['validation_error', 3, 'items[3]', 128, 'max_length']);
  // TEI's answer: the same problem under the route's list name, as a 413.
  const tei = err.relabel({ field: ['inputs', 3] }, 'payload_too_large');
  t.same([tei.type, tei.status, tei.index, tei.cause], ['payload_too_large', 413, 3, err]);
  t.match(tei.message, /^inputs\[3\]: 400 tokens \(special tokens included\) exceed max_length 128; shorten the item/);
  const line = err.relabel({ field: 'line 70', hint: 'drop --no-truncate' });
  t.equal(line.message, 'line 70: 400 tokens (special tokens included) exceed max_length 128; drop --no-truncate');
  t.equal(line.exitCode, 2);
  t.throws(() => errors.model('m', 'x').relabel({ field: 'y' }), TypeError, 'only field problems can be relabelled');
  t.equal(errors.validation('max_batch_tokens', 'x').index, undefined, 'a name has no item index');
});

t.test('config errors: a catalogue type with exit status 2, naming the setting and where it came from', async (t) => {
  const err = errors.setting('max_batch_tokens', "10 is below the model's max_length 128", 'raise it to at least 128');
  t.ok(err instanceof ConfigError && err instanceof WarmServeError);
  t.same([err.name, err.type, err.exitCode, err.setting], ['ConfigError', 'config_error', 2, 'max_batch_tokens']);
  t.equal(err.message, "max_batch_tokens: 10 is below the model's max_length 128; raise it to at least 128");
  t.equal(err.withSources({ max_batch_tokens: '--max-batch-tokens' }).message,
    "max_batch_tokens (from --max-batch-tokens): 10 is below the model's max_length 128; raise it to at least 128");
  const several = errors.config([{ setting: 'port', source: '--port', problem: 'too big' }, { source: 'config file /x.json', problem: 'unknown setting(s) prot' }], 'invalid configuration');
  t.equal(several.message, 'invalid configuration:\n  port (from --port): too big\n  config file /x.json: unknown setting(s) prot');
});

t.test('errors are built only through the catalogue: no `new WarmServeError(` outside src/errors.ts', async (t) => {
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const file = path.join(dir, name);
      return statSync(file).isDirectory() ? files(file) : file.endsWith('.ts') ? [file] : [];
    });
  const direct = files(path.join(ROOT, 'src'))
    .filter((file) => file !== path.join(ROOT, 'src', 'errors.ts'))
    .filter((file) => /new WarmServeError\(/.test(readFileSync(file, 'utf8')))
    .map((file) => path.relative(ROOT, file));
  t.same(direct, []);
});

t.test('the docs/api.md error table is the generated one', async (t) => {
  const readme = readFileSync(path.join(ROOT, 'docs', 'api.md'), 'utf8');
  t.ok(readme.includes(`<!-- error-table:start -->\n${errorMarkdownTable()}\n<!-- error-table:end -->`),
    'README table is stale: run `npm run build && node scripts/error-table.mjs`');
});
