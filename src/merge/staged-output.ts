/**
 * Output files are written under temporary names beside their final place and renamed into it
 * only when the whole merge succeeded, so a refused or failed merge leaves the output directory
 * as it was (it may hold other models, even the inputs).
 */
import { lstat, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { errors } from '../errors.js';

/** `.model.safetensors.4242.partial`: a temporary file and the process that writes it. */
const TEMP_NAME = /^\.(.+)\.(\d+)\.partial$/;

/** Whether process `pid` still runs (EPERM: it runs, as another user). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A set of files being written into `dir`, committed or abandoned together. */
export class StagedOutput {
  private readonly staged = new Map<string, string>();

  constructor(readonly dir: string) {}

  /** Whether `name` looks like a temporary name: commit() could rename another file's bytes over it. */
  static isTempName(name: string): boolean {
    return /^\..*\.partial$/.test(basename(name));
  }

  /** This process's temporary path for final file `path` (`dir/.name.PID.partial`). */
  static tempPath(path: string): string {
    return join(dirname(path), `.${basename(path)}.${process.pid}.partial`);
  }

  /**
   * Deletes the temporary files in `dir` whose writer is gone: a merge killed outright (SIGKILL,
   * out of memory, power loss) cannot abort(), and its partial files would stay forever. Files of
   * running processes (another merge into the same directory) are kept. Returns the names deleted.
   */
  static async removeStale(dir: string): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return [];
    }
    const removed: string[] = [];
    for (const name of names) {
      const pid = Number(TEMP_NAME.exec(name)?.[2]);
      if (!(Number.isSafeInteger(pid) && pid > 0) || isRunning(pid)) continue;
      const path = join(dir, name);
      if (!(await lstat(path)).isFile()) continue;
      await rm(path, { force: true });
      removed.push(name);
    }
    return removed;
  }

  /** The temporary path to write final file `name` (relative to the output directory) to. */
  path(name: string): string {
    // Two writers of one file would silently leave only the last one's bytes; mergeModels refuses such plans first.
    if (this.staged.has(name)) throw errors.merge(this.dir, undefined, `internal error: output file ${name} was staged twice; please report it`);
    mkdirSync(join(this.dir, dirname(name)), { recursive: true });
    const temp = StagedOutput.tempPath(join(this.dir, name));
    this.staged.set(name, temp);
    return temp;
  }

  /** Writes a small file in one go. */
  async writeFile(name: string, data: string | Uint8Array): Promise<void> {
    await writeFile(this.path(name), data);
  }

  /** Final names of the files staged so far. */
  names(): string[] {
    return [...this.staged.keys()];
  }

  /** Renames every staged file into place. */
  async commit(): Promise<void> {
    for (const [name, temp] of this.staged) await rename(temp, join(this.dir, name));
    this.staged.clear();
  }

  /** Deletes the temporary files (after a failure). */
  async abort(): Promise<void> {
    await Promise.all([...this.staged.values()].map((temp) => rm(temp, { force: true })));
    this.staged.clear();
  }
}
