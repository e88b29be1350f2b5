/**
 * The test tiers: `npm test` runs every test file once (tap's include, test/serial alone), and
 * `npm run test:unit` runs the files listed in test/unit-tests.txt. A listed file, and every test
 * file it imports, must start no server and no outside program, so the unit tier needs nothing
 * but node_modules and stays quick.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LIST = 'test/unit-tests.txt';
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/** The files test/unit-tests.txt lists, in order (comments and blank lines left out). */
const unitTests = readFileSync(join(ROOT, LIST), 'utf8')
  .split('\n')
  .map((line) => line.replace(/#.*/, '').trim())
  .filter(Boolean);

/** What a unit test may not do, with why. */
const FORBIDDEN: [RegExp, string][] = [
  [/from ['"](node:)?(child_process|net|http|https|http2|dgram|cluster)['"]/, 'imports a process or socket module'],
  [/helpers\/(serve-process|free-port|pack-install|http-call)\.js/, 'uses a server or package-install helper'],
  [/\bstartServer\b|\bserve\(\{|\.listen\(/, 'starts a server'],
  [/\bfetch\(|\bspawn(Sync)?\(|\bexecFile(Sync)?\(/, 'calls a server or an outside program'],
];

/** Problems of `file` and of the test files it imports (relative imports under test/); this file's own examples are data, not code. */
function problems(file: string, seen = new Set<string>()): string[] {
  if (seen.has(file) || file === fileURLToPath(import.meta.url)) return [];
  seen.add(file);
  const source = readFileSync(file, 'utf8');
  const own = FORBIDDEN.filter(([rule]) => rule.test(source)).map(([, why]) => `${relative(ROOT, file)} ${why}`);
  const imported = [...source.matchAll(/^import [^;]*? from ['"](\.{1,2}\/[^'"]+)['"]/gm)]
    .map((m) => resolve(dirname(file), m[1]).replace(/\.js$/, '.ts'))
    .filter((path) => path.startsWith(join(ROOT, 'test')) && existsSync(path));
  return [...own, ...imported.flatMap((path) => problems(path, seen))];
}

t.test('npm test runs every test file; npm run test:unit runs the listed ones without coverage', async (t) => {
  t.same(pkg.tap.include, ['test/**/*.test.ts'], 'npm test: every test file, each once');
  t.same(pkg.tap.serial, ['test/serial'], 'test/serial runs alone');
  t.match(pkg.scripts['test:unit'], /^tap --disable-coverage \$\(.*test\/unit-tests\.txt\)$/);
});

t.test(`${LIST} lists existing top-level test files, once each, none of them serial`, async (t) => {
  t.ok(unitTests.length >= 10, `${unitTests.length} files`);
  t.same(unitTests.filter((f, i) => unitTests.indexOf(f) !== i), [], 'no file twice');
  t.same(unitTests.filter((f) => !/^test\/[^/]+\.test\.ts$/.test(f) || !existsSync(join(ROOT, f))), [], 'each is test/NAME.test.ts and exists');
});

t.test('unit tests start no server and no outside program', async (t) => {
  t.same(unitTests.flatMap((f) => problems(join(ROOT, f))), []);
});

t.test('the check catches what it is for', async (t) => {
  const caught = (source: string) => FORBIDDEN.some(([rule]) => rule.test(source));
  for (const bad of ["import { spawn } from 'node:child_process';", "import { serve, untilReady } from './helpers/serve-process.js';", 'await app.listen({ port: 0 })', 'const server = await startServer(testConfig());', 'await fetch(`${url}/health`)']) {
    t.ok(caught(bad), bad);
  }
  for (const fine of ["import { BatchQueue } from '../src/batching/queue.js';", "import { openApiText } from '../src/server/openapi.js';", 'queue.submit([seq(1, 5)])']) {
    t.notOk(caught(fine), fine);
  }
});
