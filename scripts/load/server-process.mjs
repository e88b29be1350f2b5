// A warm-serve server in its own process (the built CLI, dist/, logging at info: its 'ready' line
// is how we know it is up), so load generation never shares
// its event loop: start it, wait for "ready", read its resident memory, stop it.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** Start `warm-serve serve` with `args` on a free loopback port; resolves once the model is ready. */
export async function startServerProcess(args = [], env = {}) {
  const proc = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = [];
  let stderr = '';
  proc.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  const url = await new Promise((resolve, reject) => {
    let listening;
    createInterface({ input: proc.stdout }).on('line', (text) => {
      let line;
      try {
        line = JSON.parse(text);
      } catch {
        return;
      }
      if (line.level >= 40) log.push(line);
      if (typeof line.url === 'string') listening = line.url;
      if (line.msg === 'ready') resolve(listening);
    });
    void exited.then((code) => reject(new Error(`warm-serve exited (${code}) before ready: ${stderr}`)));
  });
  return {
    url,
    pid: proc.pid,
    /** Warning and error log lines so far (5xx requests, failures). */
    log,
    /** Resident set size in bytes, from /proc (Linux). */
    rssBytes: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))[1]) * 1024,
    /** SIGTERM (drain) and wait for the exit status. */
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

/** Sample `read()` every `everyMs` until stop() is called; returns the samples as {t_s, value}. */
export function sampleEvery(everyMs, read) {
  const started = performance.now();
  const samples = [{ t_s: 0, value: read() }];
  const timer = setInterval(() => samples.push({ t_s: (performance.now() - started) / 1000, value: read() }), everyMs);
  return {
    samples,
    stop() {
      clearInterval(timer);
      samples.push({ t_s: (performance.now() - started) / 1000, value: read() });
      return samples;
    },
  };
}
