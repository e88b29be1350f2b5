/**
 * Error messages never echo what may be a secret: a config file (API keys) or model JSON file that
 * is not valid JSON is named with the line and column of the error, never quoted; a 404 names the
 * method and path, never the query string (tokens are sent there too).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModelDirectory } from '../src/model/directory.js';
import { ModelTokenizer } from '../src/model/tokenizer.js';
import { buildApp } from '../src/server/app.js';
import { testConfig } from './helpers/http-call.js';
import { referenceCopy } from './helpers/reference-copy.js';
import { rejection } from './helpers/rejection.js';
import { rewardWeights, writeOnnxModel } from './fixtures/merge/builders.js';
import { merge, tempDir } from './fixtures/merge/run-merge.js';

const SECRET = 'sk-live-9f8e7d6c5b4a';
// Invalid where the secret starts (an unquoted string): V8 quotes the text around such an error.
const BROKEN = `{\n  "port": 8000,\n  "api_keys": [${SECRET}]\n}\n`;

async function scratch(t: Tap.Test): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'warm-secrets-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  return root;
}

declare namespace Tap {
  type Test = Parameters<Parameters<typeof t.test>[1]>[0];
}

t.test('serve --config with a JSON syntax error: stderr names the file and position, not the content', async (t) => {
  const file = join(await scratch(t), 'serve.json');
  await writeFile(file, BROKEN);
  const r = spawnSync(process.execPath, [...process.execArgv, 'src/cli/main.ts', 'serve', '--config', file], { encoding: 'utf8', timeout: 60_000 });
  t.not(r.status, 0, 'refused');
  t.match(r.stderr, `config file ${file}: not valid JSON at line 3, column 16`, 'file and position');
  t.notMatch(r.stderr, /sk-live|9f8e|api_keys"?: \[/, 'no file content on stderr');
});

t.test('model JSON files that are not valid JSON: the message names the file and position only', async (t) => {
  const dir = await referenceCopy(t, { name: 'model' });

  // a Git LFS pointer instead of the file: V8's message would quote its first bytes
  await writeFile(join(dir, 'tokenizer.json'), 'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a2c\nsize 2113710\n');
  const tokenizer = (await rejection(loadModelDirectory(dir).then((d) => ModelTokenizer.load(d)))).message;
  t.match(tokenizer, /tokenizer\.json: cannot load the tokenizer: tokenizer\.json is not valid JSON at line 1, column 1$/, 'tokenizer.json');
  t.notMatch(tokenizer, /git-lfs|sha256|version/, 'tokenizer.json content not echoed');

  await writeFile(join(dir, 'tokenizer_config.json'), BROKEN);
  const config = (await rejection(loadModelDirectory(dir))).message;
  t.match(config, /tokenizer_config\.json: tokenizer_config\.json is not valid JSON at line 3, column 16$/, 'tokenizer_config.json');
  t.notMatch(config, /sk-live|9f8e/, 'tokenizer_config.json content not echoed');
});

t.test('merge: an input tokenizer.json that is not valid JSON is named, not quoted', async (t) => {
  const root = tempDir();
  const dirs = [1, 2].map((k) => writeOnnxModel(join(root, `m${k}`), rewardWeights('F32', k)));
  await writeFile(join(dirs[1], 'tokenizer.json'), `{"model": ${SECRET}}`);
  const message = (await rejection(merge(dirs, join(root, 'out')))).message;
  t.match(message, /m2: tokenizer\.json is not valid JSON at line 1, column 11$/);
  t.notMatch(message, /sk-live|9f8e/, 'content not echoed');
});

t.test('a 404 names the method and path, not the query string', async (t) => {
  const { app } = await buildApp({ config: testConfig() });
  t.teardown(() => app.close());
  const res = await app.inject({ method: 'GET', url: `/v2/score?api_key=${SECRET}&x=1` });
  t.equal(res.statusCode, 404);
  const body = res.json();
  t.equal(body.error_type, 'not_found');
  t.match(body.error, /^no route GET \/v2\/score; /, 'method and path');
  t.notMatch(res.body, /sk-live|api_key=|\?/, 'no query string in the answer');
});
