/** `warm-serve serve` as a child process of a test: the built CLI (dist/; `npm test` builds first), its JSON log lines, stderr and exit. */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface Child {
  proc: ChildProcess;
  lines: Record<string, any>[];
  stderr: string[];
  exit: Promise<number | null>;
  /** Resolves with the first log line matching `predicate`. */
  waitFor(predicate: (line: Record<string, any>) => boolean): Promise<Record<string, any>>;
}

/** Start `warm-serve serve ARGS` with `env` added to this process's environment. */
export function serve(args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const proc = spawn(process.execPath, [CLI, 'serve', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, any>[] = [];
  const stderr: string[] = [];
  const waiters: { predicate: (l: Record<string, any>) => boolean; resolve: (l: Record<string, any>) => void }[] = [];
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    let line: Record<string, any>;
    try {
      line = JSON.parse(text);
    } catch {
      line = { text };
    }
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.predicate(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  createInterface({ input: proc.stderr! }).on('line', (text) => stderr.push(text));
  const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const waitFor = (predicate: (line: Record<string, any>) => boolean) => {
    const seen = lines.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise<Record<string, any>>((resolve, reject) => {
      waiters.push({ predicate, resolve });
      void exit.then((code) => reject(new Error(`serve exited (${code}) first; stderr: ${stderr.join('\n')}`)));
    });
  };
  return { proc, lines, stderr, exit, waitFor };
}

/** Wait for the child's 'ready' line; returns its URL (rejects if it exits first). */
export async function readyUrl(child: Child): Promise<string> {
  const { url } = await child.waitFor((l) => typeof l.url === 'string');
  await child.waitFor((l) => l.msg === 'ready');
  return url;
}

/** `readyUrl`, killing the child at test end if still running. */
export async function untilReady(t: Test, child: Child): Promise<string> {
  t.teardown(() => {
    if (child.proc.exitCode === null) child.proc.kill('SIGKILL');
  });
  return readyUrl(child);
}

/** A raw TCP connection to the server at `url`, destroyed at test end; a reset from the server shows as 'close'. */
export function openSocket(t: Test, url: string): Promise<Socket> {
  const socket = connect(Number(new URL(url).port), '127.0.0.1');
  t.teardown(() => socket.destroy());
  socket.on('error', () => {});
  return new Promise((resolve) => socket.once('connect', () => resolve(socket)));
}
