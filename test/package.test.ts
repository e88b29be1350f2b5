/**
 * `import 'warm-serve'` as a user gets it: npm pack, install the tarball in a scratch project,
 * then (1) a plain ESM script serves the bundled model on port 0, scores an item over HTTP and
 * with warm-serve/client, scores it offline (equal rewards), merges two members and scores the
 * result; (2) tsc type-checks a .ts file against the installed .d.ts; (3) the README's "Use it as
 * a library" example runs; (4) the installed bin answers --version. Packs the built dist/
 * (`npm run build` first when running this file alone).
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { installedSpec, packAndInstall, ROOT, sh, type InstalledPackage } from './helpers/pack-install.js';

let pkg: InstalledPackage;
const fixtures = path.join(ROOT, 'test/fixtures/package');

t.before(async () => {
  pkg = await packAndInstall(t, [installedSpec('@types/node')]);
});

t.test('the tarball holds the entry points and their types', async (t) => {
  for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/client/index.js', 'dist/client/index.d.ts', 'dist/cli/main.js', 'models/reference/model.onnx']) {
    t.ok(pkg.files.includes(file), file);
  }
});

t.test("a plain ESM script: import { serve, loadModel, merge } from 'warm-serve'", async (t) => {
  copyFileSync(path.join(fixtures, 'consumer.mjs'), path.join(pkg.dir, 'consumer.mjs'));
  const r = JSON.parse(await sh(pkg.dir, process.execPath, ['consumer.mjs']));
  const installed = path.join(pkg.dir, 'node_modules', 'warm-serve');
  t.equal(r.modelDir, path.join(installed, 'models', 'reference'), 'DEFAULT_MODEL_DIR is the installed copy, not this checkout');
  t.match(r.url, /^http:\/\/127\.0\.0\.1:\d+$/, 'listens on loopback');
  t.ok(r.port > 0, 'port 0 picked a free port');
  t.equal(r.httpStatus, 200);
  t.type(r.httpReward, 'number');
  t.equal(r.offline.reward, r.httpReward, 'offline reward equals the served reward');
  t.equal(r.clientReward, r.httpReward, 'warm-serve/client gets the same reward');
  t.equal(r.offlineRepeat, r.httpReward, 'the same item twice in one list: same reward');
  t.equal(r.offlineModel, r.serverModel);
  t.same({ truncated: r.offline.truncated, tokens: r.offline.tokens > 0 }, { truncated: false, tokens: true });
  t.same(r.progress, [3, 3], 'onProgress reports the list done');
  t.equal(r.drainedInTime, true, 'stop() drained in time');
  t.equal(r.tooLong, 'validation_error', 'truncate: false refuses a long item with a WarmServeError');
  t.ok(r.mergeFiles.includes('model.onnx') && r.mergeFiles.includes('warm.json'), 'merge wrote a model directory');
  t.same(r.mergeWeights, [0.25, 0.75], 'merge weights normalised');
  t.ok(Number.isFinite(r.mergedReward), 'the merged model scores');
  t.match(r.badSettings, /port/, 'invalid serve() settings: a ConfigError naming the setting');
  t.equal(r.missingModel, 'model_error', 'a missing model directory: WarmServeError model_error');
  t.equal(r.version, JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
});

t.test('the installed .d.ts type-check a TypeScript consumer (tsc --noEmit, strict, NodeNext)', async (t) => {
  copyFileSync(path.join(fixtures, 'types.ts'), path.join(pkg.dir, 'types.ts'));
  const compilerOptions = { strict: true, noEmit: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: true, types: ['node'] };
  writeFileSync(path.join(pkg.dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['types.ts'] }));
  await sh(pkg.dir, path.join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json']);
  t.pass('tsc found no errors (and every @ts-expect-error was an error)');
});

t.test("docs/clients.md's library example runs", async (t) => {
  const readme = readFileSync(path.join(ROOT, 'docs', 'clients.md'), 'utf8');
  const section = readme.split(/^## Use it as a library$/m)[1];
  const example = section && /```js\n([\s\S]*?)```/.exec(section)?.[1];
  if (!example) throw new Error('docs/clients.md: no ```js block under "## Use it as a library"');
  writeFileSync(path.join(pkg.dir, 'readme-example.mjs'), example);
  const out = await sh(pkg.dir, process.execPath, ['readme-example.mjs']);
  t.match(out, /reward over HTTP -?\d/, 'prints the served reward');
  t.match(out, /offline -?\d/, 'prints the offline reward');
});

t.test('the installed bin answers --version', async (t) => {
  const out = await sh(pkg.dir, path.join(pkg.dir, 'node_modules/.bin/warm-serve'), ['--version']);
  t.equal(out.trim(), JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
});
