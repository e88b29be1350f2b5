import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { configMarkdownTable, serveHelp } from '../src/config/help.js';
import { ConfigError, loadServeConfig } from '../src/config/load.js';
import { CONFIG_KEYS, DEFAULT_MODEL_DIR, envName } from '../src/config/schema.js';

function load(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const request = loadServeConfig(argv, env);
  if (request.help) throw new Error('unexpected help');
  return request;
}

function configFile(contents: unknown): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'warm-config-'));
  const file = path.join(dir, 'serve.json');
  writeFileSync(file, typeof contents === 'string' ? contents : JSON.stringify(contents));
  return file;
}

t.test('defaults: port 8000 on all interfaces, the packaged reference model', async (t) => {
  const { config } = load([]);
  t.equal(config.port, 8000);
  t.equal(config.host, '0.0.0.0');
  t.equal(config.model, DEFAULT_MODEL_DIR);
  t.match(config.model, /models[/\\]reference$/);
  t.equal(config.device, 'cpu');
});

t.test('precedence: flags > env > config file > defaults', async (t) => {
  const file = configFile({ port: 7000, max_batch_size: 8, max_queue_items: 10, log_level: 'debug' });
  const env = { WARM_SERVE_PORT: '7100', WARM_SERVE_MAX_BATCH_SIZE: '16' };
  const { config, sources } = load(['--config', file, '--port', '7200'], env);
  t.equal(config.port, 7200, 'flag beats env and file');
  t.equal(sources.port, '--port');
  t.equal(config.max_batch_size, 16, 'env beats file');
  t.equal(sources.max_batch_size, 'env WARM_SERVE_MAX_BATCH_SIZE');
  t.equal(config.max_queue_items, 10, 'file beats default');
  t.equal(config.log_level, 'debug');
  t.equal(config.drain_timeout_ms, 30000, 'default when nobody sets it');
});

t.test('WARM_SERVE_CONFIG names the file; a model path in it is relative to the file', async (t) => {
  const file = configFile({ model: 'my-model' });
  const { config } = load([], { WARM_SERVE_CONFIG: file });
  t.equal(config.model, path.join(path.dirname(file), 'my-model'));
  const fromFlag = load(['--model', 'rel/dir']).config.model;
  t.equal(fromFlag, 'rel/dir', 'flags keep the path as given (relative to the working directory)');
});

t.test('invalid settings name the setting, where it came from and the rule', async (t) => {
  t.throws(() => load(['--port', 'eighty']), { name: 'ConfigError', message: /port \(from --port\): .*number.*"eighty"/ });
  t.throws(() => load([], { WARM_SERVE_MAX_BATCH_SIZE: '0' }), {
    message: /max_batch_size \(from env WARM_SERVE_MAX_BATCH_SIZE\): Too small.*>0 \(got 0\)/,
  });
  t.throws(() => load(['--device', 'tpu']), { message: /device \(from --device\): .*"cpu"\|"cuda".*"tpu"/ });
  const misspelt = configFile({ max_batch_sise: 3 });
  t.throws(() => load(['--config', misspelt]), { message: /unknown setting\(s\) max_batch_sise/ });
  t.throws(() => load(['--config', misspelt]), { message: `config file ${misspelt}: unknown setting(s) max_batch_sise` }, 'names the file');
  t.throws(() => load(['--config', configFile('{"port": ')]), { message: /not valid JSON/ });
  t.throws(() => load(['--config', '/nonexistent/serve.json']), { message: /cannot read it \(ENOENT\)/ });
  t.throws(() => load(['--bogus']), { message: /Unknown option '--bogus'.*--help/ });
  t.throws(() => load(['--port', '-1']), ConfigError);
  t.throws(() => load(['--port', '70000']), { type: 'config_error', exitCode: 2, setting: 'port' }, 'a catalogue error naming the setting');
});

t.test('--help documents every setting with its flag, env var and default', async (t) => {
  t.same(loadServeConfig(['--help']), { help: true });
  const help = serveHelp();
  for (const key of CONFIG_KEYS) {
    t.match(help, `--${key.replaceAll('_', '-')} `, `flag for ${key}`);
    t.match(help, envName(key), `env for ${key}`);
  }
  t.match(help, 'default 8000; env WARM_SERVE_PORT');
});

t.test('the docs/configuration.md table is the generated one', async (t) => {
  const readme = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8');
  t.ok(
    readme.includes(configMarkdownTable()),
    'README table is stale: run `npm run build && node scripts/config-table.mjs`',
  );
});
