/**
 * The supported Node versions are one decision, stated in package.json's `engines` and agreed
 * on by the lockfile (no installed package refuses a supported version: `npm ci` prints no
 * EBADENGINE), the Dockerfiles (their Node line is a supported one) and the README. The two
 * `overrides` (content-disposition 2, cookie 1: the next majors are ESM-only and declare
 * node >= 22) must still give their parents the functions they call.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import semver from 'semver';
import t from 'tap';

const ROOT = path.join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
const engines: string = pkg.engines.node;
/** The oldest version of each supported release line, e.g. 20.19.0, 22.12.0, 24.0.0. */
const oldest = engines.split('||').map((range) => semver.minVersion(range)!.version);

t.test('engines: the Node lines warm-serve supports, including the one running the tests', async (t) => {
  t.same(oldest.map((v) => semver.major(v)), [20, 22, 24]);
  t.ok(semver.satisfies(process.version, engines), `${process.version} is supported`);
  t.equal(lock.packages[''].engines.node, engines, 'the lockfile has the same engines');
});

t.test('lockfile: no package refuses a supported Node version (npm ci prints no EBADENGINE)', async (t) => {
  for (const version of [...oldest, process.version]) {
    const refusing = Object.entries(lock.packages as Record<string, { version: string; engines?: { node?: string } }>)
      .filter(([name, p]) => name !== '' && p.engines?.node && !semver.satisfies(version, p.engines.node))
      .map(([name, p]) => `${name.replace(/^.*node_modules\//, '')}@${p.version} (node ${p.engines!.node})`);
    t.same(refusing, [], `Node ${version}`);
  }
});

t.test('the overridden packages give their parents what they call', async (t) => {
  t.same(pkg.overrides, { 'content-disposition': '^2.0.1', cookie: '^1.1.1' });
  // @fastify/static (Swagger UI's assets): create(filename) for downloads.
  const fromStatic = createRequire(createRequire(import.meta.url).resolve('@fastify/static'));
  t.equal(fromStatic('content-disposition').create('report 1.pdf'), 'attachment; filename="report 1.pdf"');
  // light-my-request (fastify.inject): stringifySetCookie({name, value}) for request cookies.
  const { default: Fastify } = await import('fastify');
  const app = Fastify();
  app.get('/', async (request) => request.headers.cookie ?? '');
  const res = await app.inject({ method: 'GET', url: '/', cookies: { session: 'a b' } });
  t.equal(res.body, 'session=a%20b');
  await app.close();
});

t.test('Dockerfiles run a supported Node line, the README and docs/operations.md say the same', async (t) => {
  const readme = ['README.md', 'docs/operations.md'].map((file) => readFileSync(path.join(ROOT, file), 'utf8')).join('\n');
  for (const file of ['docker/Dockerfile', 'docker/Dockerfile.gpu']) {
    const text = readFileSync(path.join(ROOT, file), 'utf8');
    const majors = [...text.matchAll(/^FROM node:(\d+)-/gm)].map((m) => Number(m[1]));
    t.ok(majors.length > 0, `${file} builds on the official Node image`);
    for (const major of majors) {
      t.ok(oldest.some((v) => semver.major(v) === major), `${file}: Node ${major} is a supported line`);
      t.match(readme, new RegExp(`node:${major}-bookworm-slim`), `README names the image's Node ${major}`);
    }
  }
  t.ok(readme.includes(`\`${engines}\``), 'README states the engines range');
});
