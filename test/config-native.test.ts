/**
 * The settings load no native code: importing the config schema, --help and the loader (what
 * `serve --help`, the OpenAPI document and the config tests read) must not load onnxruntime-node.
 * Checked in a fresh process at two levels: the modules the ESM loader resolved (a resolve hook
 * logs every URL; require.cache does not see ESM) and the shared objects the process mapped
 * (process.report), where a native addon shows whoever loaded it. Importing src/model/device.ts
 * shows both, so the probe can see what it looks for.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';

const ROOT = path.join(import.meta.dirname, '..');

/** Import `modules` in a new process (with this test's TypeScript loader); what it loaded from node_modules. */
function probe(modules: string[]): { modules: string[]; native: string[] } {
  const script = `
    import { register } from 'node:module';
    import { mkdtempSync, readFileSync } from 'node:fs';
    import { tmpdir } from 'node:os';
    import path from 'node:path';
    import { pathToFileURL } from 'node:url';
    const log = path.join(mkdtempSync(path.join(tmpdir(), 'config-native-')), 'resolved.txt');
    const hook = \`import { appendFileSync } from 'node:fs';
      let log;
      export function initialize(data) { log = data.log; }
      export async function resolve(specifier, context, next) {
        const resolved = await next(specifier, context);
        appendFileSync(log, resolved.url + '\\\\n');
        return resolved;
      }\`;
    register('data:text/javascript,' + encodeURIComponent(hook), { data: { log } });
    for (const m of process.argv.slice(1)) await import(pathToFileURL(path.resolve(m)).href);
    const modules = readFileSync(log, 'utf8').split('\\n').filter((u) => u.includes('/node_modules/'));
    const native = process.report.getReport().sharedObjects.filter((f) => f.includes('/node_modules/'));
    process.stdout.write(JSON.stringify({ modules, native }));
  `;
  const r = spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', script, ...modules], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`probe failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

t.test('the config schema, --help and the loader load neither onnxruntime-node nor any native addon', async (t) => {
  const loaded = probe(['src/config/schema.ts', 'src/config/help.ts', 'src/config/load.ts']);
  t.ok(loaded.modules.some((url) => url.includes('/node_modules/zod/')), 'the probe saw the modules it imported (zod)');
  t.same(loaded.modules.filter((url) => url.includes('/onnxruntime')), [], 'no onnxruntime module resolved');
  t.same(loaded.native, [], 'no native addon mapped');
});

t.test('control: importing the device code loads onnxruntime-node, and the probe sees it at both levels', async (t) => {
  const loaded = probe(['src/model/device.ts']);
  t.ok(loaded.modules.some((url) => url.includes('/node_modules/onnxruntime-node/')), 'module resolved');
  t.ok(loaded.native.some((file) => /onnxruntime_binding\.node$/.test(file)), 'native binding mapped');
});
