/**
 * `warm-serve serve` refusing its settings, as a process (the built CLI, dist/): a setting that
 * turns out unusable at start-up (an API key file, max_batch_tokens below the model's max_length)
 * is a settings error like one the schema refuses: exit status 2 and one line on stderr naming
 * the setting and where it came from, without a fatal log line or a stack trace.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';

const CLI = path.join(import.meta.dirname, '..', 'dist', 'cli', 'main.js');
const dir = mkdtempSync(path.join(tmpdir(), 'serve-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** Run `serve ARGS` to its end (it must not start): exit status, stdout and stderr lines. */
function serve(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string[]; stderr: string[] }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    const lines = (text: string) => text.split('\n').filter((l) => l !== '');
    proc.on('close', (code) => resolve({ code, stdout: lines(stdout), stderr: lines(stderr) }));
  });
}

/** The JSON log lines at level fatal (60), or carrying a stack trace or an HTTP status. */
const alarming = (stdout: string[]) => stdout.filter((l) => /"level":60|"stack"|"status":4\d\d/.test(l));

t.test('max_batch_tokens below the model\'s max_length: exit 2, one line naming the setting and its source', async (t) => {
  for (const [name, args, env, source] of [
    ['flag', ['--max-batch-tokens', '10'], {}, '--max-batch-tokens'],
    ['env', [], { WARM_SERVE_MAX_BATCH_TOKENS: '10' }, 'env WARM_SERVE_MAX_BATCH_TOKENS'],
  ] as const) {
    const run = await serve([...args], env);
    t.equal(run.code, 2, `${name}: exit 2 (invalid settings)`);
    t.same(run.stderr, [`warm-serve serve: cannot start: max_batch_tokens (from ${source}): 10 is below the model's max_length 128: one full-length item must fit a batch; raise it to at least 128`], `${name}: one line`);
    t.same(alarming(run.stdout), [], `${name}: no fatal log line, stack or status`);
  }
});

t.test('an API key file that cannot be used: exit 2, one line, no fatal log with a stack trace', async (t) => {
  const bad = path.join(dir, 'keys.txt');
  writeFileSync(bad, 'short\n');
  for (const [name, file, message] of [
    ['missing', path.join(dir, 'missing.txt'), /^warm-serve serve: cannot start: api_keys_file .*missing\.txt: cannot read it \(ENOENT\); check the path$/],
    ['a bad key', bad, /^warm-serve serve: cannot start: api_keys_file .*keys\.txt line 1: an API key needs at least 16 characters/],
  ] as const) {
    const run = await serve(['--api-keys-file', file]);
    t.equal(run.code, 2, `${name}: exit 2`);
    t.equal(run.stderr.length, 1, `${name}: one line on stderr (${run.stderr.join(' | ')})`);
    t.match(run.stderr[0], message, name);
    t.same(alarming(run.stdout), [], `${name}: no fatal log line or stack trace`);
  }
});

t.test('a model that cannot load is still a start-up failure: exit 1 and a fatal log line', async (t) => {
  const run = await serve(['--model', path.join(dir, 'no-model')]);
  t.equal(run.code, 1);
  t.match(run.stderr.join('\n'), /cannot start: model .*no-model: no such directory/);
  t.ok(run.stdout.some((l) => /"level":60/.test(l)), 'fatal log line');
});
