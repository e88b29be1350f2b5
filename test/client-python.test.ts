/**
 * The single-file Python client (clients/python/warm_client.py) tested with the machine's
 * python3 against real servers: a ready one, one that loads its model on its first refusal
 * (503 then 200 for the retry test) and one that never becomes ready (the retry budget test).
 */
import { spawn } from 'node:child_process';
import t from 'tap';
import { buildApp } from '../src/server/app.js';
import { startServer } from '../src/server/start.js';
import { testConfig } from './helpers/http-call.js';
import { LoadOnFirstRefusal } from './helpers/loading-state.js';

t.test('python3 clients/python/test_warm_client.py passes against running servers', async (t) => {
  const ready = await startServer(testConfig({ max_queue_delay_ms: 2 }));
  t.teardown(() => ready.stop());
  const state = new LoadOnFirstRefusal(testConfig());
  const loading = await buildApp({ config: testConfig(), state });
  const loadingUrl = await loading.app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await loading.app.close();
    await state.release();
  });
  const starting = await buildApp({ config: testConfig() });
  const startingUrl = await starting.app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => starting.app.close());

  const child = spawn('python3', ['clients/python/test_warm_client.py'], {
    cwd: new URL('..', import.meta.url),
    env: { ...process.env, WARM_SERVE_URL: ready.url, WARM_SERVE_LOADING_URL: loadingUrl, WARM_SERVE_STARTING_URL: startingUrl },
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  t.equal(code, 0, `python tests pass:\n${output}`);
  t.match(output, /Ran 1[0-9] tests/, 'the whole suite ran');
  t.notMatch(output, /skipped/, 'nothing skipped');
});
