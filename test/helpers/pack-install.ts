/**
 * The package as a user gets it: `npm pack` the checkout, then `npm install` the tarball in a
 * scratch project (a tap test directory, removed after the test). Packs the built dist/ as it is
 * (`--ignore-scripts`: no prepack build here; `npm test` builds first), so build before running
 * a test that uses this on its own.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Test } from 'tap';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const run = promisify(execFile);

/** Run `command args` in `cwd`; resolves with stdout, rejects with the command's stderr in the message. */
export async function sh(cwd: string, command: string, args: string[], timeoutMs = 300_000): Promise<string> {
  try {
    const { stdout } = await run(command, args, { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/** A scratch project with the packed warm-serve (and `alsoInstall`, e.g. '@types/node@20') installed. */
export interface InstalledPackage {
  /** The project directory: node_modules/warm-serve is the installed tarball. */
  dir: string;
  /** Files in the tarball, relative to the package root. */
  files: string[];
}

/** npm pack this checkout and install the tarball in a new ESM project (`"type": "module"`). */
export async function packAndInstall(t: Test, alsoInstall: string[] = []): Promise<InstalledPackage> {
  if (!existsSync(path.join(ROOT, 'dist/index.js'))) throw new Error('dist/ is not built: run `npm run build` first');
  const dir = t.testdir({ 'package.json': JSON.stringify({ name: 'scratch', private: true, type: 'module' }) });
  const [packed] = JSON.parse(await sh(ROOT, 'npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir])) as {
    filename: string;
    files: { path: string }[];
  }[];
  await sh(dir, 'npm', [
    'install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock',
    `./${packed.filename}`, ...alsoInstall,
  ]);
  return { dir, files: packed.files.map((f) => f.path) };
}

/** `name@version` of a package installed in this checkout, to install the same one elsewhere. */
export function installedSpec(name: string): string {
  const { version } = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return `${name}@${version}`;
}
