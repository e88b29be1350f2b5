/**
 * docker/Dockerfile replayed without a Docker engine (the CI machine has none). Each stage gets a
 * scratch root; its WORKDIR, ENV, COPY (from the build context or `--from` a stage) and RUN run
 * there in order, with container paths mapped under the root. The image's ENTRYPOINT + CMD is
 * then started with the image's ENV, serves, matches the repository's rewards, and exits 0 on
 * SIGTERM. This proves the image's file set: nothing the server needs at run time is left out of
 * the COPY lines, and the pruned node_modules (no dev dependencies) is enough.
 *
 * Not replayed: the base images and the runtime stage's `apt-get` RUN (tini and curl from Debian;
 * needs root), USER and HEALTHCHECK; deploy-static.test.ts lints and asserts those. npm installs
 * from the local cache where it can (`npm ci` ran just before in CI), else from the registry.
 */
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DockerfileParser, type Copy, type Env, type JSONInstruction } from 'dockerfile-ast';
import { createScoringService } from '../src/scoring/service.js';
import { freePort } from './helpers/free-port.js';

const ROOT = path.join(import.meta.dirname, '..');
const DOCKERFILE = path.join(ROOT, 'docker', 'Dockerfile');
const ITEMS = [
  { prompt: 'Human: How do I boil an egg?\n\nAssistant:', completion: ' Put it in boiling water for eight minutes, then cool it in cold water.' },
  { text: 'Human: Hi\n\nAssistant: Hello! How can I help?' },
];

interface Stage {
  name: string;
  root: string;
  workdir: string;
  env: Record<string, string>;
}

const scratch = mkdtempSync(path.join(tmpdir(), 'docker-replay-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

/** A container path inside a stage's root. */
const host = (stage: Stage, p: string) => path.join(stage.root, path.posix.resolve(stage.workdir, p));

/** Replays the Dockerfile; returns the last stage and its ENTRYPOINT + CMD. */
function replay(t: Test): { stage: Stage; command: string[] } {
  const instructions = DockerfileParser.parse(readFileSync(DOCKERFILE, 'utf8')).getInstructions();
  const stages: Stage[] = [];
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  for (const ins of instructions) {
    const keyword = ins.getKeyword();
    const args = ins.getArguments().map((a) => a.getValue());
    const stage = stages[stages.length - 1];
    switch (keyword) {
      case 'FROM': {
        const name = args[2] ?? String(stages.length);
        stages.push({ name, root: path.join(scratch, name), workdir: '/', env: {} });
        break;
      }
      case 'WORKDIR':
        stage.workdir = path.posix.resolve(stage.workdir, args[0]);
        mkdirSync(host(stage, '.'), { recursive: true });
        break;
      case 'ENV':
        for (const p of (ins as Env).getProperties()) stage.env[p.getName()] = p.getValue() ?? '';
        break;
      case 'COPY': {
        const from = (ins as Copy).getFromFlag()?.getValue();
        const source = from === undefined ? undefined : stages.find((s) => s.name === from);
        if (from !== undefined && !source) throw new Error(`COPY --from=${from}: no such stage`);
        const paths = args.filter((a) => !a.startsWith('--'));
        const dest = paths.pop()!;
        for (const src of paths) {
          const srcPath = source ? host(source, src) : path.join(ROOT, src);
          const into = dest.endsWith('/') || dest === '.' ? path.join(host(stage, dest), path.basename(src)) : host(stage, dest);
          cpSync(srcPath, into, { recursive: true });
        }
        break;
      }
      case 'RUN': {
        const script = ins.getArgumentsContent()!.replace(/\\\n/g, ' ');
        if (/^apt-get /.test(script)) {
          t.comment(`not replayed (Debian packages, needs root): RUN ${script.replace(/\s+/g, ' ')}`);
          break;
        }
        const run = spawnSync('sh', ['-c', script], {
          cwd: host(stage, '.'),
          env: { PATH: process.env.PATH, HOME: process.env.HOME, npm_config_prefer_offline: 'true', ...stage.env },
          encoding: 'utf8',
        });
        t.equal(run.status, 0, `RUN ${script}`) || t.comment(run.stdout + run.stderr);
        if (run.status !== 0) throw new Error(`RUN ${script} failed`);
        break;
      }
      case 'ENTRYPOINT':
        entrypoint = (ins as JSONInstruction).getJSONStrings().map((s) => s.getJSONValue());
        break;
      case 'CMD':
        cmd = (ins as JSONInstruction).getJSONStrings().map((s) => s.getJSONValue());
        break;
    }
  }
  return { stage: stages[stages.length - 1], command: [...entrypoint, ...cmd] };
}

const mib = (p: string) => (Number(spawnSync('du', ['-sb', p], { encoding: 'utf8' }).stdout.split('\t')[0]) / 2 ** 20).toFixed(0);

t.test('the CPU image, replayed, serves the reference model and drains on SIGTERM', async (t) => {
  const { stage, command } = replay(t);
  const app = host(stage, '/app');
  t.notOk(existsSync(path.join(app, 'node_modules', 'typescript')), 'dev dependencies pruned (no typescript)');
  t.notOk(existsSync(path.join(app, 'node_modules', 'tap')), 'dev dependencies pruned (no tap)');
  t.notOk(existsSync(path.join(app, 'src')), 'no sources in the runtime stage');
  const ort = path.join(app, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
  t.same([readdirSync(ort), readdirSync(path.join(ort, 'linux'))], [['linux'], [process.arch]], 'one onnxruntime-node platform');
  t.same(readdirSync(path.join(app, 'node_modules', 'tokenizers')).filter((f) => f.endsWith('.node')), [`tokenizers.linux-${process.arch}-gnu.node`], 'one tokenizers binary');
  t.comment(`runtime stage: /app ${mib(app)} MiB, /models/reference ${mib(host(stage, '/models/reference'))} MiB`);

  // tini is PID 1 in the container; here the process is started directly.
  t.same(command.slice(0, 2), ['/usr/bin/tini', '--']);
  const [node, ...argv] = command.slice(2);
  t.equal(node, 'node');
  const mapped = argv.map((a) => (a.startsWith('/') ? host(stage, a) : a));
  const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
  for (const [k, v] of Object.entries(stage.env)) env[k] = v.startsWith('/') ? host(stage, v) : v;
  t.equal(stage.env.WARM_SERVE_MODEL, '/models/reference');
  t.equal(stage.env.WARM_SERVE_PORT, '8000');
  const port = await freePort();
  Object.assign(env, { WARM_SERVE_HOST: '127.0.0.1', WARM_SERVE_PORT: String(port) });

  const proc = spawn(process.execPath, mapped, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d) => (output += d));
  proc.stderr.on('data', (d) => (output += d));
  const exit = new Promise<number | null>((resolve) => proc.on('exit', resolve));
  t.teardown(() => proc.kill('SIGKILL'));

  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ready = await fetch(`${base}/ready`).then((r) => r.status, () => 0);
    if (ready === 200) break;
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`not ready in 60 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const res = await fetch(`${base}/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ items: ITEMS }) });
  t.equal(res.status, 200);
  const body = (await res.json()) as { model: string; rewards: number[] };
  t.equal(body.model, 'warm-stories260k-rm');

  const repo = await createScoringService(path.join(ROOT, 'models', 'reference'));
  const expected = (await repo.score(ITEMS)).items.map((i) => i.reward);
  await repo.drain(1000);
  t.same(body.rewards, expected, 'same rewards as the repository build');

  proc.kill('SIGTERM');
  t.equal(await exit, 0, 'exit 0 after SIGTERM');
});
