/**
 * A warm-serve server in a child process for the benchmark: started with the given flags on a
 * free local port, ready once /ready answers 200, read through /metrics, stopped with SIGTERM.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const DIST = join(import.meta.dirname, '..', 'dist');

/** A running server: its URL, process id, metrics and stop(). `dist`: another build to compare against. */
export async function startServer(model, flags = [], { nodeArgs = [], readyTimeoutMs = 120_000, dist = DIST } = {}) {
  const args = [...nodeArgs, join(dist, 'cli', 'main.js'), 'serve', '--model', model, '--host', '127.0.0.1', '--port', '0', ...flags];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr || log}`)), readyTimeoutMs);
    child.stdout.on('data', (d) => {
      log += d;
      const m = /"url":"(http:[^"]+)"/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
      // Keep only the tail: at log level info the server writes one line per request.
      if (log.length > 100_000) log = log.slice(-10_000);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr || log}`)));
  });
  const deadline = Date.now() + readyTimeoutMs;
  while ((await fetch(`${url}/ready`).catch(() => ({ status: 0 }))).status !== 200) {
    if (Date.now() > deadline) throw new Error(`server at ${url} never became ready`);
    await sleep(100);
  }
  return {
    url,
    pid: child.pid,
    /** Prometheus text parsed into name{labels} -> value. Default process/event-loop metrics reset on each read. */
    async metrics() {
      const text = await (await fetch(`${url}/metrics`)).text();
      const out = {};
      for (const line of text.split('\n')) {
        if (!line || line.startsWith('#')) continue;
        const cut = line.lastIndexOf(' ');
        out[line.slice(0, cut)] = Number(line.slice(cut + 1));
      }
      return out;
    },
    /** SIGTERM, then wait for the exit. */
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
