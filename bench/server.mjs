/**
 * A warm-serve server in a child process for the benchmark: started with the given flags on a
 * free local port, ready once /ready answers 200, read through /metrics, stopped with SIGTERM.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const DIST = join(import.meta.dirname, '..', 'dist');

/** A free local TCP port (the server logs its URL only at log level info, so pick the port here). */
async function freePort() {
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * A running server: its URL, process id, metrics and stop(). `dist`: another build to compare
 * against. `probe`: preload bench/loop-probe.mjs, read with loopProbe().
 */
export async function startServer(model, flags = [], { nodeArgs = [], readyTimeoutMs = 120_000, dist = DIST, probe = false } = {}) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const probeFile = join(tmpdir(), `warm-bench-loop-probe-${port}.json`);
  const probeArgs = probe ? ['--import', pathToFileURL(join(import.meta.dirname, 'loop-probe.mjs')).href] : [];
  const args = [...probeArgs, ...nodeArgs, join(dist, 'cli', 'main.js'), 'serve', '--model', model, '--host', '127.0.0.1', '--port', String(port), ...flags];
  // stdout (one log line per request at level info) is read and dropped, as a log shipper would.
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WARM_BENCH_LOOP_PROBE: probeFile } });
  child.stdout.resume();
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let exitCode = null;
  child.once('exit', (code) => (exitCode = code));
  const deadline = Date.now() + readyTimeoutMs;
  while ((await fetch(`${url}/ready`).catch(() => ({ status: 0 }))).status !== 200) {
    if (exitCode !== null) throw new Error(`server exited with ${exitCode}: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`server at ${url} never became ready: ${stderr}`);
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
    /** The loop probe's percentiles (ms) since the last read, which resets it; undefined without a probe. */
    async loopProbe() {
      if (!probe) return undefined;
      rmSync(probeFile, { force: true });
      child.kill('SIGUSR2');
      for (let i = 0; i < 100 && !existsSync(probeFile); i++) await sleep(20);
      // The probe writes the file in one synchronous call; a partial read is retried once.
      await sleep(20);
      return JSON.parse(readFileSync(probeFile, 'utf8'));
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
