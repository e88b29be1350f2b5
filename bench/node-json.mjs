// Run a node script of bench/ in its own process and parse the JSON it prints (run.mjs, grpo.mjs).
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const BENCH = import.meta.dirname;
const ROOT = join(BENCH, '..');

/** Resolves with the JSON `script` prints on stdout; rejects when it exits non-zero. Its stderr (progress) passes through. */
export function nodeJson(script, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(BENCH, script), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${script} exited with ${code}`))));
  });
}
